"""The summaries' rate limit holds across two `baton worker` processes: the scripted model server
records when each call arrives, and no window holds more calls than the limit.

The limit counts a summary when its child job starts (app/core/ratelimit.py); the model call
follows after reading the document's text, and a worker's very first call also builds its model
client (up to a second on a loaded machine). Arrival times are checked against the window less
that slack; the engine's own test checks the slot times exactly."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.db import open_pool
from app.core.migrations import apply_migrations
from app.engine.hooks import resolve_hook
from tests.conftest import baton_env
from tests.integration.documents.conftest import doc_agents, start_with_files
from tests.integration.documents.pdfs import text_pdf
from tests.support.engine import job_listeners, make_user
from tests.support.waiting import wait_for as wait_until

BATON = str(Path(sys.executable).with_name("baton"))
CALLS, WINDOW_S, SLACK_S = 3, 3.0, 1.0
pytestmark = pytest.mark.slow


@pytest.fixture
async def two_workers(fresh_database, tmp_path, model):
    url = fresh_database("baton_docs_rate")
    apply_migrations(url)
    pool = await open_pool(url, min_size=1, max_size=4)
    env = baton_env(
        DATABASE_URL=url,
        BATON_DATA_DIR=str(tmp_path / "data"),
        BATON_SECRET_KEY="rate-test-secret-key",
        OPENAI_BASE_URL=model.url,
        OPENAI_API_KEY="test-key",
        BATON_MODEL="scripted-model",
        BATON_DOC_SUMMARY_RATE=f"{CALLS}/{WINDOW_S}s",
    )
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    procs = [
        subprocess.Popen(  # noqa: ASYNC220
            [BATON, "worker", "--concurrency", "4"],
            env=env,
            stdout=log.open("w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        yield pool, logs
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        await pool.close()


async def wait_for(pool, run_id, query: str, timeout: float = 40):
    deadline = time.monotonic() + timeout
    while True:
        async with pool.connection() as conn:
            row = await (await conn.execute(query, (run_id,))).fetchone()
        if row:
            return row
        assert time.monotonic() < deadline, f"timed out waiting for: {query}"
        await asyncio.sleep(0.1)


async def wait_for_listeners(pool, count: int) -> None:
    async def listening() -> bool:
        return await job_listeners(pool) >= count

    await wait_until(listening, timeout=60, what=f"{count} workers to listen for jobs")


async def test_the_summary_rate_limit_holds_across_two_worker_processes(two_workers, model):
    pool, logs = two_workers
    model.handler = doc_agents
    user = await make_user(pool)
    docs = [(f"doc-{i}.pdf", "application/pdf", text_pdf(f"Doc {i}", pages=2)) for i in range(7)]
    await wait_for_listeners(pool, 2)  # both workers up before the fan-out starts
    run = await start_with_files(
        pool, user, "document-processing", docs, question="What do they say?"
    )
    hook = await wait_for(
        pool, run.id, "SELECT token FROM hooks WHERE run_id = %s AND status = 'waiting'"
    )
    summaries = [
        r for r in model.requests if "careful document analyst" in r.body["messages"][0]["content"]
    ]
    assert len(summaries) == 7
    times = sorted(r.received_at for r in summaries)
    for i, t in enumerate(times):
        in_window = [u for u in times[i:] if u - t < WINDOW_S - SLACK_S]
        assert len(in_window) <= CALLS, f"{len(in_window)} calls within {WINDOW_S} s"
    assert times[-1] - times[0] >= 2 * WINDOW_S - SLACK_S  # seven calls need three windows of three
    took = [
        sum("documents.summarised" in line for line in log.read_text().splitlines()) for log in logs
    ]
    assert sum(took) == 7 and all(took), f"summaries per worker: {took}"  # both workers summarised
    async with pool.connection() as conn:
        await resolve_hook(conn, hook["token"], "continue", {}, decided_by="t", owner_id=user)
    done = await wait_for(
        pool,
        run.id,
        "SELECT status, error FROM runs WHERE id = %s AND status IN ('completed', 'failed')",
    )
    assert done["status"] == "completed", done["error"]
