"""What /metrics reports, read from the database (so any web process reports the whole cluster)."""

from __future__ import annotations

from psycopg import AsyncConnection

STEP_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600)
HOOK_BUCKETS = (60, 300, 3600, 4 * 3600, 24 * 3600, 3 * 86400, 7 * 86400)

RUNS_BY_STATUS = "SELECT status, count(*) AS n FROM runs GROUP BY status"
QUEUE = """
SELECT count(*) FILTER (WHERE scheduled_at IS NULL OR scheduled_at <= now()) AS ready,
       count(*) FILTER (WHERE scheduled_at > now()) AS scheduled
FROM procrastinate_jobs WHERE status = 'todo'
"""
# Queue lag: how long the oldest job that could run now has waited for a worker (since it became
# due, or since it was queued). Zero when no job waits; growing means too few or no workers.
OLDEST_READY_JOB = """
SELECT coalesce(max(extract(epoch FROM now() - coalesce(
           j.scheduled_at, (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id), now()))), 0) AS seconds
FROM procrastinate_jobs j
WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
"""
# Stuck runs: every journaled step and status change sets updated_at, so a queued or running run
# whose updated_at stays old is not moving (its job is lost, or one step hangs).
UNCHANGED_RUNS = """
SELECT status, extract(epoch FROM now() - min(updated_at)) AS seconds
FROM runs WHERE status IN ('queued', 'running') GROUP BY status
"""
WAITING_HOOKS = "SELECT count(*) AS n FROM hooks WHERE status = 'waiting'"
COUNTERS = "SELECT name, value FROM engine_counters"


def _histogram_sql(table_expr: str, value_expr: str, buckets: tuple[float, ...]) -> str:
    # Built from constants of this module only (no user input reaches it).
    parts = [
        f"count(*) FILTER (WHERE {value_expr} <= {b}) AS le_{i}" for i, b in enumerate(buckets)
    ]
    return f"SELECT {', '.join(parts)}, count(*) AS total, coalesce(sum({value_expr}), 0) AS sum FROM {table_expr}"


STEP_DURATIONS = _histogram_sql(
    "run_steps WHERE kind = 'step' AND status = 'completed' AND duration_ms IS NOT NULL",
    "duration_ms / 1000.0",
    STEP_BUCKETS,
)
HOOK_WAITS = _histogram_sql(
    "hooks WHERE status = 'resolved'", "extract(epoch FROM decided_at - created_at)", HOOK_BUCKETS
)


async def snapshot(conn: AsyncConnection) -> dict:
    async def one(query):
        return await (await conn.execute(query)).fetchone()

    return {
        "runs": {
            r["status"]: r["n"] for r in await (await conn.execute(RUNS_BY_STATUS)).fetchall()
        },
        "queue": await one(QUEUE),
        "oldest_ready_job_s": (await one(OLDEST_READY_JOB))["seconds"],
        "unchanged_runs_s": {
            r["status"]: r["seconds"] for r in await (await conn.execute(UNCHANGED_RUNS)).fetchall()
        },
        "waiting_hooks": (await one(WAITING_HOOKS))["n"],
        "counters": {
            r["name"]: r["value"] for r in await (await conn.execute(COUNTERS)).fetchall()
        },
        "step_durations": await one(STEP_DURATIONS),
        "hook_waits": await one(HOOK_WAITS),
    }
