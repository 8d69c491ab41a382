"""Periodic upkeep run by whichever worker picks it up (Procrastinate dedupes periodic defers)."""

from __future__ import annotations

import logging

from app.core.queue import queue

log = logging.getLogger("baton.maintenance")

# Jobs left `doing` by a worker whose heartbeat stopped: that process died (SIGKILL, OOM, power).
STALLED_JOBS = """
SELECT j.id, j.queueing_lock,
       EXISTS (SELECT 1 FROM procrastinate_jobs o
               WHERE o.queueing_lock = j.queueing_lock AND o.status = 'todo') AS superseded
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.status = 'doing'
  AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => %(stale_s)s))
FOR UPDATE OF j SKIP LOCKED
"""
RETRY_JOB = "SELECT procrastinate_retry_job_v2(%(id)s, now(), NULL, NULL, NULL)"
# A newer wake-up for the same run is already queued; this one is redundant.
DROP_JOB = "SELECT procrastinate_finish_job_v1(%(id)s, 'failed', false)"


async def retry_stalled_jobs(conn, stale_s: float = 30) -> int:
    """Hand the jobs of dead workers to live ones. Returns how many were recovered."""
    async with conn.transaction():
        rows = await (await conn.execute(STALLED_JOBS, {"stale_s": stale_s})).fetchall()
        for row in rows:
            await conn.execute(DROP_JOB if row["superseded"] else RETRY_JOB, {"id": row["id"]})
    if rows:
        log.warning("maintenance.stalled_jobs_recovered", extra={"count": len(rows)})
    return len(rows)


@queue.periodic(cron="*/20 * * * * *")
@queue.task(name="baton.sweep", queueing_lock="baton.sweep", pass_context=True)
async def sweep(context, timestamp: int) -> None:
    async with context.app.connector.pool.connection() as conn:
        await retry_stalled_jobs(conn)
