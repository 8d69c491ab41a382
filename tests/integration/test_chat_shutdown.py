"""`baton serve` stops within seconds on SIGTERM even while a reply streams to a browser, and the
reply keeps the text written so far (marked interrupted, with a Retry)."""

import asyncio

import httpx
import psycopg

from tests.integration.baton_process import baton_serve
from tests.support.model_server import Reply
from tests.support.web import SyncAdapter, sign_up, start_chat


def test_sigterm_ends_open_reply_streams_and_stops_within_5s(tmp_path, database_url, model):
    model.script(Reply("word " * 1000, delay=0.05))
    env = {
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "OPENAI_BASE_URL": model.url,
        "OPENAI_API_KEY": "test-key",
        "BATON_SECRET_KEY": "test-secret-key-0123456789",
    }
    with baton_serve(tmp_path, "--no-worker", **env) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            asyncio.run(sign_up(SyncAdapter(client)))
            _, stream_url = asyncio.run(start_chat(SyncAdapter(client), "Write forever"))
            with client.stream("GET", stream_url) as stream:
                lines = stream.iter_lines()
                assert next(line for line in lines if line.startswith("event: token"))
                took = server.terminate()
                rest = list(lines)  # the server ended the stream cleanly (no broken chunk)
        log = server.stderr()
    print(f"stopped in {took:.2f}s")
    assert server.proc.returncode == 0, log
    assert took < 5, f"took {took:.1f}s to stop with a reply streaming"
    assert not any(line.startswith("event: end") for line in rest)
    assert "Traceback" not in log
    message_id = int(stream_url.split("/")[-2])
    with psycopg.connect(database_url) as conn:
        status, error, content = conn.execute(
            "SELECT status, error, content FROM messages WHERE id = %s", (message_id,)
        ).fetchone()
    assert status == "error" and "interrupted" in error and content.startswith("word word")
