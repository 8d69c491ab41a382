"""`/unsubscribe/<token>`: the link at the bottom of every mail, and its List-Unsubscribe header.

No login: the signed token (app/core/unsubscribe.py) is the whole authority, and it can do one thing,
turn off e-mail of one kind for one user. GET only shows what the link will do and a button (mail
scanners that follow links must not unsubscribe anyone); POST applies it. A mail client's RFC 8058
one-click POST (body `List-Unsubscribe=One-Click`) carries no CSRF token and needs none: there is
no cookie to ride on, the token in the URL is the credential (the CSRF middleware lets these POSTs
through, app/web/auth/middleware.py). Applying it twice is harmless.
"""

from __future__ import annotations

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from psycopg_pool import AsyncConnectionPool

from app.core.config import Settings
from app.core.notify_prefs import MAIL_STREAMS, turn_off_email
from app.core.unsubscribe import read_token

PAGE = "pages/unsubscribe.html"
BODY_LIMIT = 4 * 1024
USER_EMAIL = "SELECT email FROM users WHERE id = %(id)s"
# The token is a credential in the URL: no Referer, no caches, no search engines.
HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


async def _target(
    pool: AsyncConnectionPool, settings: Settings, token: str
) -> tuple[int, str, str] | None:
    found = read_token(settings, token)
    if found is None:
        return None
    async with pool.connection() as conn:
        user = await (await conn.execute(USER_EMAIL, {"id": found[0]})).fetchone()
    return (found[0], found[1], user["email"]) if user else None


def _page(token: str, target: tuple[int, str, str] | None, *, done: bool = False) -> Template:
    if target is None:
        return Template(PAGE, context={"valid": False}, status_code=404, headers=HEADERS)
    _, kind, email = target
    return Template(
        PAGE,
        context={
            "valid": True,
            "token": token,
            "kind": kind,
            "label": MAIL_STREAMS[kind],
            "email": email,
            "done": done,
        },
        headers=HEADERS,
    )


@get("/{token:str}")
async def confirm_unsubscribe(
    token: FromPath[str],
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Template:
    return _page(token, await _target(pool, settings, token))


@post("/{token:str}", request_max_body_size=BODY_LIMIT, status_code=200)
async def unsubscribe(
    token: FromPath[str],
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Template:
    target = await _target(pool, settings, token)
    if target is not None:
        async with pool.connection() as conn:
            await turn_off_email(conn, target[0], target[1])
    return _page(token, target, done=True)


unsubscribe_router = Router(path="/unsubscribe", route_handlers=[confirm_unsubscribe, unsubscribe])
