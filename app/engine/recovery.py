"""The recovery sweep: hand work of dead workers to live ones, and re-queue runs whose job is
gone. Every worker process runs it on `SWEEP_SCHEDULE` (worker/sweeper.py) and once at start-up.
Replay makes re-running any of this safe, so the sweep errs on the side of waking.

The guarantee (docs/engine.md): a run held by a worker that died is taken over by a live worker
within STALLED_WORKER_TIMEOUT_S + SWEEP_INTERVAL_S (20 + 10 = 30 s): its heartbeat goes stale
after the first, the next sweep of any live worker retries its jobs within the second.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from croniter import croniter
from psycopg import AsyncConnection

from app.core.queue import RUN_CHILD
from app.core.sql_queries import load_queries
from app.engine.jobs import defer_children, wake_run

log = logging.getLogger("baton.engine.recovery")

# A worker whose heartbeat (every 5 s) is older than this is dead; its `doing` jobs are retried.
STALLED_WORKER_TIMEOUT_S = 20.0
# Every 10 s, on the clock. croniter (Procrastinate's) reads a sixth field as *seconds*: the old
# "*/20 * * * * *" meant "every second of minutes :00, :20 and :40".
SWEEP_SCHEDULE = "* * * * * */10"
SWEEP_INTERVAL_S = 10.0

SQL = load_queries(__file__)
STALLED_JOBS = SQL["stalled_jobs"]
RETRY_JOB = SQL["retry_job"]
DROP_JOB = SQL["drop_job"]
RELEASE_WORKER = SQL["release_worker"]
ORPHAN_RUNS = SQL["orphan_runs"]
ORPHAN_CHILDREN = SQL["orphan_children"]


OVERDUE_RUNS = SQL["overdue_runs"]


def _duration_words(delta) -> str:
    days = delta.total_seconds() / 86400
    return (
        f"{days:g} day{'s' if days != 1 else ''}"
        if days >= 1
        else f"{delta.total_seconds():g} seconds"
    )


async def cancel_overdue(conn: AsyncConnection) -> int:
    from app.engine.commands import cancel_run
    from app.engine.errors import InvalidState

    rows = await (await conn.execute(OVERDUE_RUNS)).fetchall()
    for row in rows:
        with contextlib.suppress(InvalidState):  # finished meanwhile
            await cancel_run(
                conn,
                row["id"],
                reason=f"cancelled: the run exceeded its maximum duration of {_duration_words(row['allowed'])}",
            )
    return len(rows)


def next_sweep_at(after: datetime) -> datetime:
    return croniter(SWEEP_SCHEDULE, after).get_next(datetime)


async def release_workers(conn: AsyncConnection, worker_ids: list[int]) -> None:
    """Forget workers known dead (they ran in this process and have stopped) without waiting for
    their heartbeats to go stale; only call it once their jobs' tasks have all ended."""
    for worker_id in worker_ids:
        await conn.execute(RELEASE_WORKER, {"id": worker_id})


async def retry_stalled_jobs(
    conn: AsyncConnection, stale_s: float = STALLED_WORKER_TIMEOUT_S
) -> int:
    async with conn.transaction():
        rows = await (await conn.execute(STALLED_JOBS, {"stale_s": stale_s})).fetchall()
        for row in rows:
            await conn.execute(DROP_JOB if row["superseded"] else RETRY_JOB, {"id": row["id"]})
    return len(rows)


async def requeue_orphans(conn: AsyncConnection, grace_s: float = 10) -> int:
    async with conn.transaction():
        runs = await (await conn.execute(ORPHAN_RUNS, {"grace_s": grace_s})).fetchall()
        for run in runs:
            await wake_run(
                conn, run["id"], None if run["status"] in ("queued", "running") else run["wake_at"]
            )
        children = await (await conn.execute(ORPHAN_CHILDREN, {"run_child": RUN_CHILD})).fetchall()
        for child in children:
            await defer_children(conn, child["run_id"], child["seq"], [child["idx"]])
    return len(runs) + len(children)


async def sweep(
    conn: AsyncConnection, *, stale_s: float = STALLED_WORKER_TIMEOUT_S, grace_s: float = 10
) -> dict[str, int]:
    """One pass of recovery. Returns what it recovered, for logs and metrics."""
    result = {
        "stalled_jobs": await retry_stalled_jobs(conn, stale_s),
        "orphans": await requeue_orphans(conn, grace_s),
        "overdue": await cancel_overdue(conn),
    }
    if any(result.values()):
        log.warning("recovery.recovered", extra=result)
        await conn.execute(
            "INSERT INTO engine_counters (name, value) VALUES ('recoveries', %(n)s) "
            "ON CONFLICT (name) DO UPDATE SET value = engine_counters.value + EXCLUDED.value",
            {"n": sum(result.values())},
        )
    return result
