"""Helpers for driving Baton over HTTP in tests: CSRF tokens, signing up, HTMX requests.
Work with Litestar's AsyncTestClient and with httpx.AsyncClient against a live server."""

from __future__ import annotations

import re
import secrets

CSRF = re.compile(r'name="_csrf_token" value="([0-9a-f]+)"')
STREAM_URL = re.compile(r'sse-connect="([^"]+)"')
PASSWORD = "correct horse battery staple"


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(5)}@example.com"


async def sign_up(client, email: str | None = None, password: str = PASSWORD) -> str:
    """Sign up through the form, as a new browser (cookies cleared); the client keeps the new
    session cookie. Returns the email."""
    email = email or new_email()
    client.cookies.clear()
    page = await client.get("/signup")
    response = await client.post(
        "/signup", data={"email": email, "password": password, "_csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 303, response.text
    return email


async def token(client, path: str = "/chat") -> str:
    """The CSRF token of the signed-in browser (taken from a page)."""
    return csrf_of((await client.get(path)).text)


def htmx(csrf: str) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRF-Token": csrf, "HX-Current-URL": "http://testserver/chat"}


async def start_chat(client, text: str) -> tuple[int, str]:
    """Send a first message; returns the conversation id and the reply's stream URL."""
    csrf = await token(client)
    response = await client.post("/chat", data={"content": text}, headers=htmx(csrf))
    assert response.status_code == 200, response.text
    location = response.headers["HX-Location"]
    conversation_id = int(location.rsplit("/", 1)[1])
    page = await client.get(location)
    # The reply may already be finished (then its stream just sends the end).
    reply_id = re.findall(r'id="msg-(\d+)"', page.text)[-1]
    return conversation_id, f"/chat/{conversation_id}/messages/{reply_id}/stream"


async def log_in(client, email: str, password: str = PASSWORD):
    client.cookies.clear()
    page = await client.get("/login")
    return await client.post(
        "/login", data={"email": email, "password": password, "_csrf_token": csrf_of(page.text)}
    )


async def make_user(
    pool,
    email: str | None = None,
    *,
    password: str = PASSWORD,
    tier: str = "free",
    is_admin: bool = False,
):
    """An account created directly in the database (no sign-up form, no rate limit)."""
    from app.web.auth.accounts import create_account
    from app.web.auth.passwords import hash_password

    async with pool.connection() as conn:
        return await create_account(
            conn,
            email or new_email(),
            await hash_password(password),
            tier=tier,
            is_admin=is_admin,
            explicit_tier=True,
        )


def parse_sse(body: str) -> list[tuple[str, str]]:
    """SSE text to (event, data) pairs; comments and `retry:` lines are dropped."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append((name, "\n".join(data)))
    return events


async def reply_written(pool, message_id: int) -> bool:
    """Some of a streaming reply's text has reached its row (the reply flushes it every FLUSH_S)."""
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT content FROM messages WHERE id = %s", (message_id,))
        ).fetchone()
    return bool(row and row["content"])


async def send(client, conversation_id: int, text: str, csrf: str):
    """Send a message in an existing conversation, as the composer does."""
    return await client.post(
        f"/chat/{conversation_id}/messages", data={"content": text}, headers=htmx(csrf)
    )


class SyncAdapter:
    """Lets these async helpers drive a sync `httpx.Client` (e.g. `asyncio.run(sign_up(SyncAdapter(c)))`)."""

    def __init__(self, client):
        self._client = client
        self.cookies = client.cookies

    async def get(self, *args, **kwargs):
        return self._client.get(*args, **kwargs)

    async def post(self, *args, **kwargs):
        return self._client.post(*args, **kwargs)
