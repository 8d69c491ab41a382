"""Crash-proof guarantees, proved with real `baton worker` processes killed with SIGKILL.

Each test gets its own database, so only the worker processes it starts take its jobs. After a
kill, the test runs the recovery sweep (as the periodic job would, with a short staleness) and
starts a fresh worker.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from app.core.db import open_pool
from app.core.migrations import apply_migrations
from app.engine.hooks import resolve_hook
from app.engine.recovery import sweep
from tests.conftest import baton_env
from tests.integration.engine import workflows as test_workflows
from tests.support.engine import effects, hook_token, journal, make_user, start, wait_status

BATON = str(Path(sys.executable).with_name("baton"))
pytestmark = pytest.mark.slow


class Workers:
    def __init__(self, url: str, tmp: Path, **env: str):
        self.url, self.tmp, self.procs, self.logs, self.env = url, tmp, [], [], env

    def start(self, concurrency: int = 4) -> subprocess.Popen:
        log = open(self.tmp / f"worker-{len(self.procs)}.log", "w")  # noqa: SIM115 (closed in stop_all)
        self.logs.append(log)
        proc = subprocess.Popen(
            [BATON, "worker", "--concurrency", str(concurrency)],
            env=baton_env(
                DATABASE_URL=self.url,
                BATON_DATA_DIR=str(self.tmp / "data"),
                BATON_SECRET_KEY="crash-test-secret-key",
                BATON_WORKFLOW_MODULES="tests.integration.engine.workflows",
                BATON_TEST_DB=self.url,
                **self.env,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
        for log in self.logs:
            log.close()


@pytest.fixture
async def crash_env(fresh_database, tmp_path):
    url = fresh_database("baton_crash")
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(test_workflows.EFFECTS)
    pool = await open_pool(url, min_size=1, max_size=6)
    workers = Workers(url, tmp_path)
    try:
        yield pool, workers, await make_user(pool)
    finally:
        workers.stop_all()
        await pool.close()


async def wait_effect(pool, run_id, name: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not any(e["name"] == name for e in await effects(pool, run_id)):
        assert time.monotonic() < deadline, f"no effect {name!r}"
        await asyncio.sleep(0.05)


async def wait_workers(pool, n: int, timeout: float = 30) -> None:
    """Until n worker processes have registered with Procrastinate (each inserts its row once
    it is ready to take jobs)."""
    deadline = time.monotonic() + timeout
    while True:
        async with pool.connection() as conn:
            row = await (
                await conn.execute("SELECT count(*) AS n FROM procrastinate_workers")
            ).fetchone()
        if row["n"] >= n:
            return
        assert time.monotonic() < deadline, f"{row['n']} of {n} workers up"
        await asyncio.sleep(0.05)


async def recover_after_kill(pool, workers, proc) -> None:
    workers.kill(proc)
    await asyncio.sleep(1.2)  # the dead worker's heartbeat goes stale
    async with pool.connection() as conn:
        await sweep(conn, stale_s=1, grace_s=0)
    workers.start()


def assert_ran_once_except(counts: Counter, interrupted: set[str]) -> None:
    for name, n in counts.items():
        if name in interrupted:
            assert n <= 2, f"{name} ran {n} times"
        else:
            assert n == 1, f"{name} ran {n} times (completed steps must never run again)"


async def check_journal(pool, run_id) -> None:
    entries = await journal(pool, run_id)
    assert [e["seq"] for e in entries] == list(range(len(entries)))  # each position once
    assert all(e["status"] == "completed" for e in entries)


async def test_sigkill_mid_step(crash_env):
    pool, workers, user = crash_env
    proc = workers.start()
    run = await start(pool, user, "test-crashy", step_hold_s=30)
    await wait_effect(pool, run.id, "slow")
    await recover_after_kill(pool, workers, proc)
    await wait_status(pool, run.id, "completed", timeout=30)
    counts = Counter(e["name"] for e in await effects(pool, run.id))
    assert counts["slow"] == 2  # the body died mid-step, so it ran again: at least once
    assert_ran_once_except(counts, {"slow"})
    await check_journal(pool, run.id)
    async with pool.connection() as conn:  # usage counts every step once, crash or not
        billed = await (
            await conn.execute(
                "SELECT u.steps, r.steps_done FROM usage_monthly u JOIN runs r ON r.owner_id = u.user_id "
                "WHERE r.id = %s",
                (run.id,),
            )
        ).fetchone()
    assert billed["steps"] == billed["steps_done"] == 6


@pytest.mark.parametrize("stage", ["sleep", "hook", "fan-out"])
async def test_sigkill_while_suspended_or_fanning_out(crash_env, stage):
    pool, workers, user = crash_env
    proc = workers.start()
    params = {
        "sleep": {"sleep_s": 3},
        "hook": {"approval": True},
        "fan-out": {"fan_out": 6, "child_hold_s": 0.4},
    }[stage]
    run = await start(pool, user, "test-crashy", **params)
    if stage == "sleep":
        await wait_status(pool, run.id, "sleeping", timeout=20)
    elif stage == "hook":
        await wait_status(pool, run.id, "waiting", timeout=20)
    else:
        await wait_effect(pool, run.id, "child 1")
    await recover_after_kill(pool, workers, proc)
    if stage == "hook":
        async with pool.connection() as conn:
            await resolve_hook(conn, await hook_token(pool, run.id), "approve")
    done = await wait_status(pool, run.id, "completed", timeout=30)
    counts = Counter(e["name"] for e in await effects(pool, run.id))
    interrupted = {f"child {i}" for i in range(6)} if stage == "fan-out" else set()
    assert_ran_once_except(counts, interrupted)
    assert counts["last"] == 1
    await check_journal(pool, run.id)
    if stage == "fan-out":
        assert done["output"]["children"] == [i * 10 for i in range(6)]
    if stage == "hook":
        assert done["output"]["approved"] is True


async def test_two_workers_never_advance_one_run_at_once(crash_env):
    pool, workers, user = crash_env
    workers.start()
    workers.start()
    runs = [await start(pool, user, "test-crashy", step_hold_s=0.3) for _ in range(4)]
    # Flood every run with extra advance jobs carrying its lock, as duplicates would.
    async with pool.connection() as conn:
        for _ in range(5):
            for run in runs:
                await conn.execute(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, args) "
                    "VALUES ('baton', 'baton.advance_run', %s, %s)",
                    (f"run:{run.id}", psycopg.types.json.Jsonb({"run_id": str(run.id)})),
                )
            await asyncio.sleep(0.05)
    for run in runs:
        await wait_status(pool, run.id, "completed", timeout=30)
        spans = sorted((e["at"], e["finished_at"]) for e in await effects(pool, run.id))
        assert all(
            a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)
        ), "overlapping advances"
        assert_ran_once_except(Counter(e["name"] for e in await effects(pool, run.id)), set())
        await check_journal(pool, run.id)


async def test_rate_limit_holds_across_two_workers(crash_env):
    pool, workers, user = crash_env
    workers.start()
    workers.start()
    await wait_workers(pool, 2)  # both workers up before the fan-out starts
    run = await start(
        pool,
        user,
        "test-map",
        items=12,
        concurrency=12,
        hold_s=0.05,
        limit_calls=4,
        limit_per_s=1.5,
    )
    done = await wait_status(pool, run.id, "completed", timeout=30)
    assert done["output"] == list(range(12))
    async with pool.connection() as conn:
        calls = [
            r["at"]
            for r in await (
                await conn.execute(
                    "SELECT at FROM rate_events WHERE bucket = %s ORDER BY at",
                    (f"calls:test-{run.id}",),
                )
            ).fetchall()
        ]
    # The slots taken, as the database recorded them under the limit's lock. (The items' own start
    # times trail their slots by however long a loaded machine takes to run them, so they are not
    # what the limit promises.)
    assert len(calls) == 12
    for i, t in enumerate(calls):
        assert len([u for u in calls[i:] if (u - t).total_seconds() < 1.5]) <= 4
    assert (calls[-1] - calls[0]).total_seconds() >= 3.0  # three windows of four
    assert len({e["pid"] for e in await effects(pool, run.id)}) == 2  # both workers took items


async def test_sweep_requeues_a_run_whose_job_was_lost(crash_env):
    pool, workers, user = crash_env
    workers.start()
    run = await start(pool, user, "selftest", steps=2, sleep_s=1)
    await wait_status(pool, run.id, "sleeping", timeout=20)
    async with pool.connection() as conn:
        await conn.execute(
            "DELETE FROM procrastinate_jobs WHERE queueing_lock = %s", (f"run:{run.id}",)
        )
        await asyncio.sleep(1.5)
        assert (await wait_status(pool, run.id, "sleeping"))[
            "status"
        ] == "sleeping"  # stuck without its job
        recovered = await sweep(conn, grace_s=0)
    assert recovered["orphans"] == 1
    await wait_status(pool, run.id, "completed", timeout=10)
