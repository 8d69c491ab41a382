"""Queueing engine work as Procrastinate jobs, in the caller's transaction.

Jobs are written with plain SQL on the caller's connection so that "state saved" and "work
queued" commit together: a crash between the two cannot lose a run.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg import AsyncConnection

QUEUE = "baton"

WAKE_RUN = "SELECT baton_wake_run(%(run_id)s, %(at)s)"

# Fan-out children carry no lock: they run in parallel, on any worker.
DEFER_CHILDREN = """
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args, scheduled_at)
SELECT 'baton', 'baton.run_child', 0,
       jsonb_build_object('run_id', %(run_id)s::text, 'seq', %(seq)s::int, 'idx', i), %(at)s
FROM unnest(%(idxs)s::int[]) AS i
"""

DEFER_HOOK_REMINDER = """
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args, scheduled_at)
VALUES ('baton', 'baton.hook_reminder', 0, jsonb_build_object('hook_id', %(hook_id)s::bigint), %(at)s)
"""

# The jobs of a finished run: its pending advance job and its children's; a running child is asked
# to abort (which cancels its asyncio task).
CANCEL_RUN_JOBS = """
SELECT procrastinate_cancel_job_v1(id, true, false) FROM procrastinate_jobs
WHERE (status = 'todo' AND queueing_lock = 'run:' || %(run_id)s::text)
   OR (status IN ('todo', 'doing') AND task_name = 'baton.run_child' AND args->>'run_id' = %(run_id)s::text)
"""

# A cancel landing while the run advances: abort that job so a long step stops at once.
ABORT_ADVANCE = """
SELECT procrastinate_cancel_job_v1(id, true, false) FROM procrastinate_jobs
WHERE status = 'doing' AND lock = 'run:' || %(run_id)s::text
"""

ADVANCE_RUNNING = """
SELECT EXISTS (SELECT 1 FROM procrastinate_jobs
               WHERE lock = 'run:' || %(run_id)s::text AND status = 'doing') AS running
"""


async def wake_run(conn: AsyncConnection, run_id: UUID | str, at: datetime | None = None) -> None:
    """Make sure the run's advance job is queued for `at` (None: now), or sooner if already so."""
    await conn.execute(WAKE_RUN, {"run_id": run_id, "at": at})


async def defer_children(
    conn: AsyncConnection, run_id: UUID | str, seq: int, idxs: list[int], at: datetime | None = None
) -> None:
    if idxs:
        await conn.execute(DEFER_CHILDREN, {"run_id": str(run_id), "seq": seq, "idxs": idxs, "at": at})


async def defer_hook_reminder(conn: AsyncConnection, hook_id: int, at: datetime) -> None:
    await conn.execute(DEFER_HOOK_REMINDER, {"hook_id": hook_id, "at": at})


async def cancel_run_jobs(conn: AsyncConnection, run_id: UUID | str) -> None:
    await conn.execute(CANCEL_RUN_JOBS, {"run_id": str(run_id)})


async def abort_advance(conn: AsyncConnection, run_id: UUID | str) -> None:
    await conn.execute(ABORT_ADVANCE, {"run_id": str(run_id)})


async def advance_is_running(conn: AsyncConnection, run_id: UUID | str) -> bool:
    row = await (await conn.execute(ADVANCE_RUNNING, {"run_id": str(run_id)})).fetchone()
    return row["running"]
