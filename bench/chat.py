"""Chat benchmark: prints the figures of issue 4 in one run, on one fresh database.

    uv run python bench/chat.py          # a server from BENCH_DATABASE_URL / TEST_DATABASE_URL
                                         # (default postgresql://postgres@127.0.0.1:5432/postgres)

(a) Time to first token, p50/p99 over 100 messages: directly from the scripted model server, and
through Baton (`baton serve` in its own process): from posting the message to the first reply
text arriving on the reply's SSE stream. The difference is what Baton adds.
(b) Page renders with 1,000 chats x 50 messages for one user: the chat page (sidebar + 50-message
history), the sidebar alone (a new chat) and the next sidebar page, measured from the client.
"""

from __future__ import annotations

import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.markdown import render_markdown  # noqa: E402
from app.core.migrations import apply_migrations  # noqa: E402
from tests.support.live_server import free_port  # noqa: E402
from tests.support.model_server import ModelServer, Reply  # noqa: E402
from tests.support.web import PASSWORD, csrf_of  # noqa: E402

BATON = str(Path(sys.executable).with_name("baton"))
MESSAGES = 100
WARMUP = 10
RENDERS = 200
TTFT_BUDGET_MS = 15.0
RENDER_BUDGET_MS = 30.0
REPLY = "Sure. Here is a short answer with a few words in it, streamed one word at a time."


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def fresh_database(server_url: str) -> tuple[str, str]:
    name = f"baton_bench_chat_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def start_baton(url: str, model: ModelServer, data_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BATON_DATA_DIR": data_dir,
        "OPENAI_BASE_URL": model.url,
        "OPENAI_API_KEY": "bench",
        "BATON_MODEL": "scripted-model",
        "BATON_SECRET_KEY": "bench-secret-key-000",
    }
    proc = subprocess.Popen(
        [BATON, "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code in (200, 503):
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("baton serve did not start")


def sign_up(client: httpx.Client, url: str) -> tuple[int, str]:
    """A user for the benchmark, with a limit high enough for it (a throwaway database)."""
    email = f"bench-{secrets.token_hex(4)}@example.com"
    page = client.get("/signup")
    client.post(
        "/signup", data={"email": email, "password": PASSWORD, "_csrf_token": csrf_of(page.text)}
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE tiers SET chat_per_minute = 1000000 WHERE name = 'enterprise'")
        user_id = conn.execute(
            "UPDATE users SET tier = 'enterprise' WHERE email = %s RETURNING id", (email,)
        ).fetchone()[0]
    return user_id, csrf_of(client.get("/chat").text)


def first_token_direct(model: ModelServer, client: httpx.Client) -> float:
    body = {
        "model": "scripted-model",
        "stream": True,
        "messages": [{"role": "user", "content": "hello"}],
    }
    started = time.perf_counter()
    with client.stream("POST", f"{model.url}/chat/completions", json=body) as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("data: ") and '"content"' in line:
                took = time.perf_counter() - started
                break
        for _ in lines:
            pass
    return took


def first_token_through_baton(
    client: httpx.Client, csrf: str, conversation_id: int, n: int
) -> float:
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf}
    started = time.perf_counter()
    sent = client.post(
        f"/chat/{conversation_id}/messages", data={"content": f"Question {n}?"}, headers=headers
    )
    stream_url = re.findall(r'sse-connect="([^"]+)"', sent.text)[-1]
    took = None
    with client.stream("GET", stream_url) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif (
                took is None
                and line.startswith("data: ")
                and line[6:].strip()
                and event in ("text", "token", "end")
            ):
                took = time.perf_counter() - started
            if event == "end" and not line:
                break
    return took


def seed_history(url: str, user_id: int, chats: int = 1000, per_chat: int = 50) -> int:
    answer = (
        "Here is what I found:\n\n- **first**, the main point, with `code`;\n- second, a detail worth "
        "keeping;\n- third, a caveat.\n\nIn short: it depends, but usually yes. " * 2
    )
    html = str(render_markdown(answer))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO conversations (user_id, title, created_at, updated_at)
            SELECT %(user)s, 'Seeded chat ' || c, now() - make_interval(mins => c), now() - make_interval(mins => c)
            FROM generate_series(1, %(chats)s) c""",
            {"user": user_id, "chats": chats},
        )
        conn.execute(
            """
            INSERT INTO messages (conversation_id, role, content, html, status, model)
            SELECT c.id, CASE WHEN m %% 2 = 1 THEN 'user' ELSE 'assistant' END,
                   CASE WHEN m %% 2 = 1 THEN 'A question about topic ' || m || ' in ' || c.title ELSE %(answer)s END,
                   CASE WHEN m %% 2 = 1 THEN NULL ELSE %(html)s END, 'done',
                   CASE WHEN m %% 2 = 1 THEN NULL ELSE 'scripted-model' END
            FROM conversations c CROSS JOIN generate_series(1, %(per)s) m
            WHERE c.user_id = %(user)s AND c.title LIKE 'Seeded chat %%'
            ORDER BY c.id, m""",
            {"user": user_id, "per": per_chat, "answer": answer, "html": html},
        )
        conn.execute("ANALYZE conversations; ANALYZE messages")
        newest = conn.execute(
            "SELECT id FROM conversations WHERE user_id = %s ORDER BY updated_at DESC, id DESC LIMIT 1",
            (user_id,),
        ).fetchone()[0]
        count = conn.execute(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.user_id = %s",
            (user_id,),
        ).fetchone()[0]
    print(f"seeded {chats} chats, {count} messages")
    return newest


def timed_gets(
    client: httpx.Client, path: str, n: int = RENDERS, headers: dict | None = None
) -> list[float]:
    for _ in range(10):
        client.get(path, headers=headers)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return times


def report(name: str, values: list[float], budget_ms: float | None = None) -> None:
    p50, p99 = pct(values, 50), pct(values, 99)
    verdict = "" if budget_ms is None else ("  ok" if p50 * 1000 <= budget_ms else "  OVER BUDGET")
    print(
        f"  {name:44} p50 {ms(p50)}   p99 {ms(p99)}   mean {ms(statistics.mean(values))}{verdict}"
    )


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    return f"{os.cpu_count()} cores, {model}"


def main() -> None:
    server_url = (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name, url = fresh_database(server_url)
    apply_migrations(url)
    model = ModelServer().start()
    model.handler = lambda request: Reply(REPLY)
    proc = None
    try:
        proc, base = start_baton(url, model, tempfile.mkdtemp(prefix="baton-bench-"))
        print(
            f"machine: {machine()}; Baton at {base} (baton serve --no-worker), model server in-process"
        )
        with httpx.Client(base_url=base, timeout=30) as client, httpx.Client(timeout=30) as direct:
            user_id, csrf = sign_up(client, url)
            conversations = []
            for i in range(10):
                sent = client.post(
                    "/chat",
                    data={"content": f"Conversation {i}"},
                    headers={"HX-Request": "true", "X-CSRF-Token": csrf},
                )
                conversations.append(int(sent.headers["HX-Location"].rsplit("/", 1)[1]))
            time.sleep(0.5)  # let those first replies finish

            for i in range(WARMUP):
                first_token_direct(model, direct)
                first_token_through_baton(client, csrf, conversations[i % 10], i)
            direct_times, baton_times = [], []
            for i in range(MESSAGES):  # interleaved, so both see the same machine state
                direct_times.append(first_token_direct(model, direct))
                baton_times.append(
                    first_token_through_baton(client, csrf, conversations[i % 10], i)
                )
            print(f"\n(a) time to first token, {MESSAGES} messages")
            report("direct from the model server", direct_times)
            report("through Baton (POST message -> first SSE text)", baton_times)
            added = pct(baton_times, 50) - pct(direct_times, 50)
            print(
                f"  Baton adds at p50: {added * 1000:.2f} ms (budget {TTFT_BUDGET_MS:.0f} ms)"
                f"  {'ok' if added * 1000 <= TTFT_BUDGET_MS else 'OVER BUDGET'}"
            )

            newest = seed_history(url, user_id)
            print(f"\n(b) renders with 1,000 chats x 50 messages, {RENDERS} requests each")
            report(
                "chat page: sidebar + 50-message history",
                timed_gets(client, f"/chat/{newest}"),
                RENDER_BUDGET_MS,
            )
            report("new chat page: sidebar only", timed_gets(client, "/chat"), RENDER_BUDGET_MS)
            page = client.get("/chat").text
            more = re.search(r'hx-get="(/chat/list[^"]+)"', page).group(1).replace("&amp;", "&")
            report(
                "next sidebar page (HTMX fragment)",
                timed_gets(client, more, headers={"HX-Request": "true"}),
                RENDER_BUDGET_MS,
            )
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
        model.stop()
        drop_database(server_url, name)


if __name__ == "__main__":
    main()
