"""Retention: drop the journal and event log of runs finished longer ago than the retention
period (BATON_RETENTION_DAYS, default 90), and audit log entries and team invitations that ended
longer ago than it. Runs, hooks and artifacts stay."""

from __future__ import annotations

import logging

from psycopg import AsyncConnection

from app.core.sql_queries import load_queries

log = logging.getLogger("baton.engine.retention")

SQL = load_queries(__file__)
PRUNE_BATCH = SQL["prune_batch"]


PRUNE_JOBS = SQL["prune_jobs"]
PRUNE_AUDIT = SQL["prune_audit"]
PRUNE_INVITATIONS = SQL["prune_invitations"]


async def prune_finished_jobs(conn: AsyncConnection) -> int:
    return (await conn.execute(PRUNE_JOBS)).rowcount


async def prune_finished_runs(
    conn: AsyncConnection, days: int, *, batch: int = 500, max_batches: int = 200
) -> int:
    pruned = 0
    for _ in range(max_batches):
        cur = await conn.execute(PRUNE_BATCH, {"days": days, "limit": batch})
        pruned += cur.rowcount
        if cur.rowcount < batch:
            break
    if pruned:
        log.info("retention.pruned", extra={"runs": pruned, "days": days})
    return pruned


async def prune_audit_log(
    conn: AsyncConnection, days: int, *, batch: int = 5000, max_batches: int = 200
) -> int:
    """Delete audit entries older than `days` (every space's), a batch per statement."""
    pruned = 0
    for _ in range(max_batches):
        cur = await conn.execute(PRUNE_AUDIT, {"days": days, "limit": batch})
        pruned += cur.rowcount
        if cur.rowcount < batch:
            break
    if pruned:
        log.info("retention.audit_pruned", extra={"entries": pruned, "days": days})
    return pruned


async def prune_invitations(conn: AsyncConnection, days: int, *, batch: int = 5000) -> int:
    """Delete team invitations used, revoked or expired more than `days` ago (every team's)."""
    pruned = 0
    while True:
        cur = await conn.execute(PRUNE_INVITATIONS, {"days": days, "limit": batch})
        pruned += cur.rowcount
        if cur.rowcount < batch:
            break
    if pruned:
        log.info("retention.invitations_pruned", extra={"invitations": pruned, "days": days})
    return pruned
