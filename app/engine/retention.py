"""Retention: drop the journal and event log of runs finished longer ago than the retention
period (BATON_RETENTION_DAYS, default 90). Runs, hooks and artifacts stay."""

from __future__ import annotations

import logging

from psycopg import AsyncConnection

log = logging.getLogger("baton.engine.retention")

# In batches, so a first prune of a large backlog never holds long locks.
PRUNE_BATCH = """
WITH batch AS (
    SELECT id FROM runs
    WHERE completed_at < now() - make_interval(days => %(days)s) AND journal_pruned_at IS NULL
    ORDER BY completed_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), steps AS (
    DELETE FROM run_steps WHERE run_id IN (SELECT id FROM batch)
), events AS (
    DELETE FROM run_events WHERE run_id IN (SELECT id FROM batch)
)
UPDATE runs SET journal_pruned_at = now() WHERE id IN (SELECT id FROM batch)
"""


# Finished queue jobs (cancelled wake-ups, superseded or failed jobs; successful ones are deleted
# at once) are only history: keep a week of them for debugging.
PRUNE_JOBS = """
DELETE FROM procrastinate_jobs j
WHERE j.status IN ('succeeded', 'failed', 'cancelled', 'aborted')
  AND NOT EXISTS (SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id AND e.at > now() - interval '7 days')
"""


async def prune_finished_jobs(conn: AsyncConnection) -> int:
    return (await conn.execute(PRUNE_JOBS)).rowcount


async def prune_finished_runs(conn: AsyncConnection, days: int, *, batch: int = 500, max_batches: int = 200) -> int:
    pruned = 0
    for _ in range(max_batches):
        cur = await conn.execute(PRUNE_BATCH, {"days": days, "limit": batch})
        pruned += cur.rowcount
        if cur.rowcount < batch:
            break
    if pruned:
        log.info("retention.pruned", extra={"runs": pruned, "days": days})
    return pruned
