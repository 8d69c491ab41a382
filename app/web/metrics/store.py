"""What /metrics reports, read from the database (so any web process reports the whole cluster).

A scrape's cost does not grow with the number of runs ever finished: unfinished runs and waiting
hooks are counted through their partial indexes, and finished runs (with their steps' durations
and their hooks' waits) are folded into `metrics_rollup` once finished for FOLD_AFTER; a scrape
reads only the runs finished since the last fold. So the histograms count the steps and hooks of
finished runs (a run's are counted when it finishes), the finished statuses count finishes (a run
retried after failing counts under both), and pruning a journal does not lower them.
"""

from __future__ import annotations

import json

from psycopg import AsyncConnection

STEP_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600)
HOOK_BUCKETS = (60, 300, 3600, 4 * 3600, 24 * 3600, 3 * 86400, 7 * 86400)
# A run whose finishing transaction commits more than this after its `now()` would be missed.
FOLD_AFTER = "1 minute"

UNFINISHED_RUNS = """
SELECT status, count(*) AS n FROM runs
WHERE status IN ('queued', 'running', 'sleeping', 'waiting') GROUP BY status
"""
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
# Stuck runs: every status change sets updated_at, and journaled steps at least once a second
# (journal.sql), so a queued or running run whose updated_at stays old is not moving (its job is
# lost, or one step hangs).
UNCHANGED_RUNS = """
SELECT status, extract(epoch FROM now() - min(updated_at)) AS seconds
FROM runs WHERE status IN ('queued', 'running') GROUP BY status
"""
WAITING_HOOKS = "SELECT count(*) AS n FROM hooks WHERE status = 'waiting'"
COUNTERS = "SELECT name, value FROM engine_counters"
ROLLUP = "SELECT rolled_at, rolled_id, totals FROM metrics_rollup"
ROLLUP_FOR_FOLD = ROLLUP + " FOR UPDATE SKIP LOCKED"
SAVE_ROLLUP = """
UPDATE metrics_rollup SET rolled_at = %(rolled_at)s, rolled_id = %(rolled_id)s, totals = %(totals)s
"""


def _histogram_sql(table_expr: str, value_expr: str, buckets: tuple[float, ...]) -> str:
    # Built from constants of this module only (no user input reaches it).
    parts = [
        f"count(*) FILTER (WHERE {value_expr} <= {b}) AS le_{i}" for i, b in enumerate(buckets)
    ]
    return f"SELECT {', '.join(parts)}, count(*) AS total, coalesce(sum({value_expr}), 0) AS sum FROM {table_expr}"


# The runs finished after a keyset position (and, to fold, before a cut-off), read through
# runs_completed_at, with their steps and hooks through their keys: the LATERAL ... OFFSET 0 keeps
# the planner from hashing the whole journal (a seq scan of run_steps: 650 ms at 1M steps).
FINISHED_SINCE = f"""
WITH batch AS (
    SELECT id, status, completed_at FROM runs
    WHERE completed_at IS NOT NULL AND (completed_at, id) > (%(after_at)s, %(after_id)s)
      AND (%(fold)s = false OR completed_at < now() - interval '{FOLD_AFTER}')
)
SELECT
    (SELECT coalesce(jsonb_object_agg(status, n), '{{}}')
     FROM (SELECT status, count(*) AS n FROM batch GROUP BY status) s) AS runs,
    (SELECT to_jsonb(x) FROM ({
    _histogram_sql(
        "batch b CROSS JOIN LATERAL (SELECT s.duration_ms FROM run_steps s WHERE s.run_id = b.id "
        "AND s.kind = 'step' AND s.status = 'completed' AND s.duration_ms IS NOT NULL OFFSET 0) s",
        "s.duration_ms / 1000.0",
        STEP_BUCKETS,
    )
}) x) AS steps,
    (SELECT to_jsonb(x) FROM ({
    _histogram_sql(
        "batch b CROSS JOIN LATERAL (SELECT h.decided_at, h.created_at FROM hooks h "
        "WHERE h.run_id = b.id AND h.status = 'resolved' OFFSET 0) h",
        "extract(epoch FROM h.decided_at - h.created_at)",
        HOOK_BUCKETS,
    )
}) x) AS hooks,
    (SELECT completed_at FROM batch ORDER BY completed_at DESC, id DESC LIMIT 1) AS last_at,
    (SELECT id FROM batch ORDER BY completed_at DESC, id DESC LIMIT 1) AS last_id
"""


def _add(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = (
            _add(out.get(key, {}), value)
            if isinstance(value, dict)
            else out.get(key, 0) + (value or 0)
        )
    return out


async def _finished_since(conn: AsyncConnection, rollup: dict, *, fold: bool) -> dict:
    return await (
        await conn.execute(
            FINISHED_SINCE,
            {"after_at": rollup["rolled_at"], "after_id": rollup["rolled_id"], "fold": fold},
        )
    ).fetchone()


async def finished_totals(conn: AsyncConnection) -> dict:
    """Finished runs by status and the step/hook histograms: the fold, moved on by whoever is not
    already folding, plus the runs finished since."""
    async with conn.transaction():
        rollup = await (await conn.execute(ROLLUP_FOR_FOLD)).fetchone()
        if rollup is not None:
            fresh = await _finished_since(conn, rollup, fold=True)
            if fresh["last_id"] is not None:
                rollup = {
                    "rolled_at": fresh["last_at"],
                    "rolled_id": fresh["last_id"],
                    "totals": _add(
                        rollup["totals"],
                        {k: fresh[k] for k in ("runs", "steps", "hooks")},
                    ),
                }
                await conn.execute(SAVE_ROLLUP, rollup | {"totals": json.dumps(rollup["totals"])})
    if rollup is None:  # another scrape is folding: read what it last saved
        rollup = await (await conn.execute(ROLLUP)).fetchone()
    tail = await _finished_since(conn, rollup, fold=False)
    return _add(rollup["totals"], {k: tail[k] for k in ("runs", "steps", "hooks")})


async def snapshot(conn: AsyncConnection) -> dict:
    async def one(query):
        return await (await conn.execute(query)).fetchone()

    finished = await finished_totals(conn)
    empty = lambda buckets: {f"le_{i}": 0 for i in range(len(buckets))} | {"total": 0, "sum": 0}  # noqa: E731
    return {
        "runs": finished.get("runs", {})
        | {r["status"]: r["n"] for r in await (await conn.execute(UNFINISHED_RUNS)).fetchall()},
        "queue": await one(QUEUE),
        "oldest_ready_job_s": (await one(OLDEST_READY_JOB))["seconds"],
        "unchanged_runs_s": {
            r["status"]: r["seconds"] for r in await (await conn.execute(UNCHANGED_RUNS)).fetchall()
        },
        "waiting_hooks": (await one(WAITING_HOOKS))["n"],
        "counters": {
            r["name"]: r["value"] for r in await (await conn.execute(COUNTERS)).fetchall()
        },
        "step_durations": empty(STEP_BUCKETS) | finished.get("steps", {}),
        "hook_waits": empty(HOOK_BUCKETS) | finished.get("hooks", {}),
    }
