"""Queueing engine work as Procrastinate jobs, in the caller's transaction.

Jobs are written with plain SQL on the caller's connection so that "state saved" and "work
queued" commit together: a crash between the two cannot lose a run. A run's advance job is
queued by `baton_wake_run` (sql/0005_engine.sql), one per run under the queueing lock
`run:<id>`; every other job goes through app.core.queue.defer. What this relies on in
Procrastinate is listed in docs/engine.md.

Wake-ups further away than the horizon (`BATON_WAKE_HORIZON`, 5 minutes) are not queued as jobs:
the run's row (`runs.wake_at`) or the hook's (`hooks.remind_at`) keeps them, and every worker's
waker (worker/wakeups.py) queues them, for their exact time, once they come within the horizon.
Procrastinate's job fetch walks every job scheduled for later, so 35,000 sleeping and waiting runs
as jobs cost every fetch 5-7 ms; this way they cost it nothing (docs/engine.md, "Wake-ups").
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from uuid import UUID

from psycopg import AsyncConnection

from app.core.config import load_settings
from app.core.queue import HOOK_REMINDER, RUN_CHILD, defer, defer_once
from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
WAKE_RUN = SQL["wake_run"]
CANCEL_RUN_JOBS = SQL["cancel_run_jobs"]
ABORT_ADVANCE = SQL["abort_advance"]
ADVANCE_RUNNING = SQL["advance_running"]
DUE_WAKEUPS = SQL["due_wakeups"]
DUE_REMINDERS = SQL["due_reminders"]


@functools.cache
def wake_horizon_s() -> float:
    """How far ahead wake-ups are queued as jobs (settings, read once per process)."""
    return load_settings().wake_horizon_s


async def wake_run(conn: AsyncConnection, run_id: UUID | str, at: datetime | None = None) -> None:
    """Make sure the run's advance job is queued for `at` (None: now), or sooner if already so.
    A time beyond the horizon is left to the waker: the caller has recorded it as runs.wake_at."""
    await conn.execute(WAKE_RUN, {"run_id": run_id, "at": at, "horizon_s": wake_horizon_s()})


async def defer_children(
    conn: AsyncConnection, run_id: UUID | str, seq: int, idxs: list[int], at: datetime | None = None
) -> None:
    await defer(
        conn, RUN_CHILD, *({"run_id": str(run_id), "seq": seq, "idx": idx} for idx in idxs), at=at
    )


async def defer_hook_reminder(conn: AsyncConnection, hook_id: int, at: datetime) -> None:
    """Queue the hook's reminder for `at` if it is within the horizon; the waker queues a later one
    from hooks.remind_at. Its queueing lock lets the waker see that it is queued."""
    if at <= datetime.now(UTC) + timedelta(seconds=wake_horizon_s()):
        await defer_once(
            conn,
            HOOK_REMINDER,
            {"hook_id": hook_id},
            queueing_lock=f"hook-reminder:{hook_id}",
            at=at,
        )


async def queue_due_wakeups(conn: AsyncConnection, horizon_s: float | None = None) -> int:
    """The waker's pass: queue the jobs of runs and hook reminders due within the horizon that have
    none. Safe to run from any number of workers at once. Returns how many it queued."""
    horizon_s = wake_horizon_s() if horizon_s is None else horizon_s
    runs = await (await conn.execute(DUE_WAKEUPS, {"horizon_s": horizon_s})).fetchone()
    hooks = await (await conn.execute(DUE_REMINDERS, {"horizon_s": horizon_s})).fetchall()
    for hook in hooks:
        await defer_once(
            conn,
            HOOK_REMINDER,
            {"hook_id": hook["id"]},
            queueing_lock=f"hook-reminder:{hook['id']}",
            at=hook["remind_at"],
        )
    return runs["queued"] + len(hooks)


async def cancel_run_jobs(conn: AsyncConnection, run_id: UUID | str) -> None:
    await conn.execute(CANCEL_RUN_JOBS, {"run_id": str(run_id), "run_child": RUN_CHILD})


async def abort_advance(conn: AsyncConnection, run_id: UUID | str) -> None:
    await conn.execute(ABORT_ADVANCE, {"run_id": str(run_id)})


async def advance_is_running(conn: AsyncConnection, run_id: UUID | str) -> bool:
    row = await (await conn.execute(ADVANCE_RUNNING, {"run_id": str(run_id)})).fetchone()
    return row["running"]
