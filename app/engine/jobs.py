"""Queueing engine work as Procrastinate jobs, in the caller's transaction.

Jobs are written with plain SQL on the caller's connection so that "state saved" and "work
queued" commit together: a crash between the two cannot lose a run. A run's advance job is
queued by `baton_wake_run` (sql/0005_engine.sql), one per run under the queueing lock
`run:<id>`; every other job goes through app.core.queue.defer. What this relies on in
Procrastinate is listed in docs/engine.md.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg import AsyncConnection

from app.core.queue import HOOK_REMINDER, RUN_CHILD, defer
from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
WAKE_RUN = SQL["wake_run"]
WAKE_RUNS = SQL["wake_runs"]
CANCEL_RUN_JOBS = SQL["cancel_run_jobs"]
ABORT_ADVANCE = SQL["abort_advance"]
ADVANCE_RUNNING = SQL["advance_running"]


async def wake_run(conn: AsyncConnection, run_id: UUID | str, at: datetime | None = None) -> None:
    """Make sure the run's advance job is queued for `at` (None: now), or sooner if already so."""
    await conn.execute(WAKE_RUN, {"run_id": run_id, "at": at})


async def wake_runs(conn: AsyncConnection, run_ids: list[UUID]) -> None:
    """`wake_run` (now) for many runs at once."""
    if run_ids:
        await conn.execute(WAKE_RUNS, {"run_ids": run_ids})


async def defer_children(
    conn: AsyncConnection, run_id: UUID | str, seq: int, idxs: list[int], at: datetime | None = None
) -> None:
    await defer(
        conn, RUN_CHILD, *({"run_id": str(run_id), "seq": seq, "idx": idx} for idx in idxs), at=at
    )


async def defer_hook_reminder(conn: AsyncConnection, hook_id: int, at: datetime) -> None:
    await defer(conn, HOOK_REMINDER, {"hook_id": hook_id}, at=at)


async def cancel_run_jobs(conn: AsyncConnection, run_id: UUID | str) -> None:
    await conn.execute(CANCEL_RUN_JOBS, {"run_id": str(run_id), "run_child": RUN_CHILD})


async def abort_advance(conn: AsyncConnection, run_id: UUID | str) -> None:
    await conn.execute(ABORT_ADVANCE, {"run_id": str(run_id)})


async def advance_is_running(conn: AsyncConnection, run_id: UUID | str) -> bool:
    row = await (await conn.execute(ADVANCE_RUNNING, {"run_id": str(run_id)})).fetchone()
    return row["running"]
