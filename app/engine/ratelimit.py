"""Named rate limits that hold across every worker: a sliding window of call times in Postgres.

The limit's row is locked while a call is counted, so two workers cannot both take the last slot.
A caller that finds the window full is told when the oldest call leaves it; it suspends until then
(never sleeps in the worker).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg import AsyncConnection

from app.engine.values import RateLimit

UPSERT_LIMIT = """
INSERT INTO rate_limits (name, max_calls, per_seconds) VALUES (%(name)s, %(max_calls)s, %(per_seconds)s)
ON CONFLICT (name) DO UPDATE SET max_calls = EXCLUDED.max_calls, per_seconds = EXCLUDED.per_seconds
WHERE (rate_limits.max_calls, rate_limits.per_seconds) IS DISTINCT FROM (EXCLUDED.max_calls, EXCLUDED.per_seconds)
"""
LOCK_LIMIT = "SELECT max_calls, per_seconds FROM rate_limits WHERE name = %(name)s FOR UPDATE"
# Calls stay an hour past their window: a short history of what the limit let through.
FORGET_OLD = """
DELETE FROM rate_limit_calls
WHERE name = %(name)s AND at <= clock_timestamp() - make_interval(secs => %(per)s + 3600)
"""
WINDOW = """
SELECT at FROM rate_limit_calls
WHERE name = %(name)s AND at > clock_timestamp() - make_interval(secs => %(per)s) ORDER BY at
"""
RECORD_CALL = "INSERT INTO rate_limit_calls (name) VALUES (%(name)s)"


async def acquire(conn: AsyncConnection, limit: RateLimit) -> datetime | None:
    """Take a slot now (returns None) or learn when one frees up (returns that time)."""
    await conn.execute(UPSERT_LIMIT, {"name": limit.name, "max_calls": limit.max_calls, "per_seconds": limit.per_seconds})
    async with conn.transaction():
        row = await (await conn.execute(LOCK_LIMIT, {"name": limit.name})).fetchone()
        await conn.execute(FORGET_OLD, {"name": limit.name, "per": row["per_seconds"]})
        calls = [r["at"] for r in await (await conn.execute(WINDOW, {"name": limit.name, "per": row["per_seconds"]})).fetchall()]
        if len(calls) < row["max_calls"]:
            await conn.execute(RECORD_CALL, {"name": limit.name})
            return None
        # The window frees a slot when its (len - max + 1)-th oldest call ages out.
        return calls[len(calls) - row["max_calls"]] + timedelta(seconds=row["per_seconds"])
