"""Fold finished runs into the admin analytics' rollup (sql/0133): per (UTC day of creation,
workflow) and per (day, owner). Each worker's recovery sweep calls `fold` (worker/sweeper.py), so
the rollup trails the runs by about FOLD_AFTER; the analytics page reads what it does not hold
live (app/web/analytics/store.sql). A folded run that changes afterwards (a retry, a deletion)
is taken back out by the trigger of sql/0133, so nothing is counted twice."""

from __future__ import annotations

from psycopg import AsyncConnection

from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
LOCK_POSITION = SQL["lock_position"]
FOLD_BATCH = SQL["fold_batch"]

FOLD_AFTER = "5 minutes"
# Runs per transaction: the first fold of a large backlog holds the position's lock briefly.
BATCH = 20_000


async def fold(conn: AsyncConnection, *, fold_after: str = FOLD_AFTER, batches: int = 5) -> int:
    """Fold up to `batches` × BATCH finished runs; returns how many. Another process folding at
    the same moment makes this one return 0 at once."""
    folded = 0
    for _ in range(batches):
        async with conn.transaction():
            position = await (await conn.execute(LOCK_POSITION)).fetchone()
            if position is None:
                return folded
            row = await (
                await conn.execute(
                    FOLD_BATCH,
                    {
                        "after_at": position["rolled_at"],
                        "after_id": position["rolled_id"],
                        "fold_after": fold_after,
                        "limit": BATCH,
                    },
                )
            ).fetchone()
        n = row["folded"] if row else 0
        folded += n
        if n < BATCH:
            return folded
    return folded
