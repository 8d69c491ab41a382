"""The worker inside a process: /healthz sees it, and a scheduled job starts close to its time."""

from __future__ import annotations

import asyncio
import time

from litestar.testing import AsyncTestClient

from app.core.config import load_settings
from app.core.migrations import apply_migrations
from app.core.queue import queue, worker_pool
from app.web.app import create_app
from worker.runner import WorkerHandle

# Monotonic start times by key, written by the task below (same process as the test).
STARTED: dict[str, float] = {}


@queue.task(name="tests.record_start")
async def record_start(key: str) -> None:
    STARTED[key] = time.monotonic()


async def wait_for(predicate, within_s: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval)
    return False


async def test_healthz_reports_the_worker(fresh_database, tmp_path):
    # A database of its own: no heartbeat left by another test's worker can answer for this one.
    url = fresh_database()
    apply_migrations(url)
    settings = load_settings({"DATABASE_URL": url, "BATON_DATA_DIR": str(tmp_path)})

    async with AsyncTestClient(create_app(settings, url, run_worker=False)) as web_only:
        response = await web_only.get("/healthz")
        assert response.status_code == 200  # serving without a worker is a valid deployment
        assert response.json() == {
            "ok": False,
            "database": True,
            "migrations_current": True,
            "worker": False,
        }

    async with AsyncTestClient(create_app(settings, url, run_worker=True)) as with_worker:

        async def worker_seen() -> bool:
            return (await with_worker.get("/healthz")).json()["worker"]

        assert await wait_for(worker_seen, within_s=5)
        assert (await with_worker.get("/healthz")).json()["ok"] is True


async def test_a_job_scheduled_in_1s_starts_within_1_5s(pool):
    async with pool.connection() as conn:
        before = (await (await conn.execute("SELECT now() AS t")).fetchone())["t"]
    worker = WorkerHandle(pool, concurrency=2, name="tests:wakeups")
    worker.start()
    try:

        async def registered() -> bool:
            async with pool.connection() as conn:
                sql = "SELECT 1 FROM procrastinate_workers WHERE last_heartbeat >= %s"
                return await (await conn.execute(sql, (before,))).fetchone() is not None

        assert await wait_for(registered, within_s=10)

        # Procrastinate's connector takes its pool from the context, as inside a worker.
        token = worker_pool.set(pool)
        try:
            deferred_at = time.monotonic()
            await record_start.configure(schedule_in={"seconds": 1}).defer_async(key="one-second")
        finally:
            worker_pool.reset(token)

        async def started() -> bool:
            return "one-second" in STARTED

        assert await wait_for(started, within_s=7), "not started: the 5 s poll was not beaten"
        delay = STARTED["one-second"] - deferred_at
        assert 0.9 <= delay <= 1.5, f"started {delay:.2f}s after being deferred for 1s"
    finally:
        await worker.stop()
