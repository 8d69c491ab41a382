"""Wake-ups further than the horizon stay out of procrastinate_jobs until they come near: the
workers' job fetch walks every job scheduled for later, so tens of thousands of sleeping and
waiting runs as jobs slowed every fetch (issue 14). The run's row keeps the time; the waker queues
the job, for that exact time, once it is within the horizon. The horizon is 3 s in these tests."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app.core.db import open_pool
from app.core.migrations import apply_migrations
from app.engine import jobs
from app.engine.jobs import defer_hook_reminder, queue_due_wakeups, wake_run
from app.engine.recovery import requeue_orphans
from tests.integration.engine.test_recovery_plan import job_table_scanned_per_run
from tests.support.engine import job_listeners, journal, make_user, start, wait_status
from tests.support.waiting import wait_for
from worker.runner import WorkerHandle

HORIZON_S = 3
FAR_RUNS = 3000

# Suspended runs as the engine leaves them (status, waiting_for, wake_at), due in a day; each
# waiting one with its hook, which expires then and reminds an hour before.
SEED_RUNS = """
INSERT INTO runs (owner_id, workflow, version, title, status, input, waiting_for, wake_at)
SELECT %(owner)s, 'test-hook', 1, 'seeded', CASE WHEN g %% 3 = 0 THEN 'sleeping' ELSE 'waiting' END,
       '{}', 'seeded', now() + interval '1 day'
FROM generate_series(1, %(n)s) g
RETURNING id, wake_at
"""
SEED_HOOKS = """
INSERT INTO hooks (run_id, seq, owner_id, token, name, kind, actions, expires_at, remind_at)
SELECT id, 0, owner_id, 'seed-' || id, 'approve it', 'approval', ARRAY['approve'],
       wake_at, wake_at - interval '1 hour'
FROM runs WHERE owner_id = %(owner)s AND status = 'waiting'
RETURNING id, remind_at
"""

TODO_JOBS = "SELECT queueing_lock, scheduled_at FROM procrastinate_jobs WHERE status = 'todo'"


@pytest.fixture
def small_horizon(monkeypatch):
    monkeypatch.setenv("BATON_WAKE_HORIZON", str(HORIZON_S))
    jobs.wake_horizon_s.cache_clear()
    yield
    monkeypatch.undo()
    jobs.wake_horizon_s.cache_clear()


@pytest.fixture
async def seeded(fresh_database, small_horizon):
    """A database holding FAR_RUNS suspended runs whose wake-ups went through the engine's own
    wake_run and defer_hook_reminder."""
    url = fresh_database("baton_wake_horizon")
    apply_migrations(url)
    pool = await open_pool(url, max_size=6, name="wake-horizon")
    owner = await make_user(pool)
    async with pool.connection() as conn:
        runs = await (await conn.execute(SEED_RUNS, {"owner": owner, "n": FAR_RUNS})).fetchall()
        hooks = await (await conn.execute(SEED_HOOKS, {"owner": owner})).fetchall()
        async with conn.transaction():
            for run in runs:
                await wake_run(conn, run["id"], run["wake_at"])
            for hook in hooks:
                await defer_hook_reminder(conn, hook["id"], hook["remind_at"])
        await conn.execute("ANALYZE")
    yield pool, owner
    await pool.close()


async def todo_jobs(pool) -> dict[str, object]:
    async with pool.connection() as conn:
        rows = await (await conn.execute(TODO_JOBS)).fetchall()
    return {r["queueing_lock"]: r["scheduled_at"] for r in rows}


async def near(conn, table: str, column: str, seconds: float) -> dict:
    """Bring one seeded run's wake-up (or hook's reminder) to `seconds` from now, as time would."""
    query = (
        f"UPDATE {table} SET {column} = now() + make_interval(secs => %s) "  # noqa: S608
        f"WHERE id = (SELECT id FROM {table} WHERE {column} > now() + interval '1 minute' LIMIT 1) "
        f"RETURNING id, {column}"
    )
    return await (await conn.execute(query, (seconds,))).fetchone()


async def test_far_wakeups_are_not_jobs_until_within_the_horizon(seeded):
    pool, _ = seeded
    assert await todo_jobs(pool) == {}, "a wake-up a day away was queued as a job"
    async with pool.connection() as conn:
        # The recovery sweep agrees: a run not yet due lost nothing by having no job.
        assert await requeue_orphans(conn, grace_s=0) == 0

    async with pool.connection() as conn:
        soon = await near(conn, "runs", "wake_at", 2)
        hook = await near(conn, "hooks", "remind_at", 2)
        assert await queue_due_wakeups(conn) == 2
        # Idempotent: the waker of every worker may pass at once.
        assert await queue_due_wakeups(conn) == 0
    queued = await todo_jobs(pool)
    # The exact time, not the time the waker passed: the sleep ends when it should.
    assert queued == {
        f"run:{soon['id']}": soon["wake_at"],
        f"hook-reminder:{hook['id']}": hook["remind_at"],
    }

    async with pool.connection() as conn:
        # A run suspended within the horizon gets its job from wake_run itself.
        now_row = await (await conn.execute("SELECT now() AS now")).fetchone()
        at = now_row["now"] + timedelta(seconds=1)
        other = await (
            await conn.execute(
                "SELECT id FROM runs WHERE wake_at > now() + interval '1 minute' LIMIT 1"
            )
        ).fetchone()
        await wake_run(conn, other["id"], at)
    assert (await todo_jobs(pool))[f"run:{other['id']}"] == at


def plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


@pytest.mark.parametrize(
    ("query", "index"),
    [(jobs.DUE_WAKEUPS, "runs_wake_at"), (jobs.DUE_REMINDERS, "hooks_reminder_due")],
)
async def test_the_waker_reads_only_what_is_due_through_an_index(seeded, query, index):
    pool, _ = seeded
    async with pool.connection() as conn:
        # The job table as a live one holds it: ended jobs kept for a week beside the few pending.
        await conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
            "SELECT 'baton', 'baton.send_mail', '{}', 'failed' FROM generate_series(1, 5000)"
        )
        await conn.execute("ANALYZE procrastinate_jobs")
        row = await (
            await conn.execute(f"EXPLAIN (FORMAT JSON) {query}", {"horizon_s": 300})
        ).fetchone()
    plan = row["QUERY PLAN"][0]["Plan"]
    nodes = list(plan_nodes(plan))
    assert any(n.get("Index Name") == index for n in nodes), json.dumps(plan, indent=1)
    seq_scans = [n["Relation Name"] for n in nodes if n.get("Node Type") == "Seq Scan"]
    assert seq_scans == [], json.dumps(plan, indent=1)
    assert job_table_scanned_per_run(plan) == []


@pytest.fixture
async def horizon_worker(fresh_database, small_horizon):
    url = fresh_database("baton_wake_worker")
    apply_migrations(url)
    pool = await open_pool(url, max_size=12, name="wake-worker")
    before = await job_listeners(pool)
    handle = WorkerHandle(pool, concurrency=4, name="wake-horizon")
    handle.start()
    await wait_for(
        lambda: _listening(pool, before), what="the worker to listen for jobs", timeout=30
    )
    yield pool
    await handle.stop()
    await pool.close()


async def _listening(pool, before: int) -> bool:
    return await job_listeners(pool) > before


async def test_a_short_sleep_and_a_timeout_beyond_the_horizon_wake_on_time(horizon_worker):
    pool = horizon_worker
    user = await make_user(pool)
    napper = await start(pool, user, "test-crashy", sleep_s=1.5)
    # Expires 12 s on, reminds 4 s before: both well beyond the 3 s horizon when the run waits.
    waiter = await start(pool, user, "test-hook", timeout_s=12, remind_before_s=4)

    waiting = await wait_status(pool, waiter.id, "waiting", timeout=30)
    async with pool.connection() as conn:
        hook = await (
            await conn.execute(
                "SELECT id, remind_at, expires_at, now() AS now FROM hooks WHERE run_id = %s",
                (waiter.id,),
            )
        ).fetchone()
    if (hook["remind_at"] - hook["now"]).total_seconds() > HORIZON_S + 1:
        # Not queued at suspension: neither the timeout nor the reminder.
        queued = await todo_jobs(pool)
        assert f"run:{waiter.id}" not in queued
        assert f"hook-reminder:{hook['id']}" not in queued

    done = await wait_status(pool, napper.id, "completed", timeout=30)
    steps = {s["name"]: s for s in await journal(pool, napper.id)}
    woke_late = (steps["after nap"]["started_at"] - steps["nap"]["wake_at"]).total_seconds()
    assert 0 <= woke_late < 1.5, steps["nap"]
    assert done["status"] == "completed"

    done = await wait_status(pool, waiter.id, "completed", timeout=40)
    assert done["output"]["timed_out"] is True
    async with pool.connection() as conn:
        hook = await (
            await conn.execute("SELECT * FROM hooks WHERE id = %s", (hook["id"],))
        ).fetchone()
    reminded_late = (hook["reminded_at"] - hook["remind_at"]).total_seconds()
    assert 0 <= reminded_late < 1.5, hook
    expired_late = (done["completed_at"] - waiting["wake_at"]).total_seconds()
    assert 0 <= expired_late < 1.5, (done, waiting["wake_at"])
