"""Sliding-window rate limits kept in Postgres (`rate_limit_take`, sql/0003_auth.sql), so a limit
holds across every web process. Buckets are strings such as "login:ip:1.2.3.4" or "chat:42"."""

from __future__ import annotations

import math

from psycopg import AsyncConnection

TAKE = "SELECT rate_limit_take(%(bucket)s, %(limit)s, make_interval(secs => %(window)s), %(record)s) AS wait"
RECORD = "INSERT INTO rate_events (bucket) SELECT unnest(%(buckets)s::text[])"
CLEAR = "DELETE FROM rate_events WHERE bucket = %(bucket)s"


async def take(conn: AsyncConnection, bucket: str, limit: int, window_s: float) -> float:
    """Count one event if the bucket has room; returns 0, or the seconds to wait (nothing counted)."""
    row = await (await conn.execute(TAKE, {"bucket": bucket, "limit": limit, "window": window_s,
                                           "record": True})).fetchone()
    return _wait(row)


async def check(conn: AsyncConnection, bucket: str, limit: int, window_s: float) -> float:
    """Like `take` without counting: for limits on failures, counted with `record` afterwards."""
    row = await (await conn.execute(TAKE, {"bucket": bucket, "limit": limit, "window": window_s,
                                           "record": False})).fetchone()
    return _wait(row)


async def record(conn: AsyncConnection, *buckets: str) -> None:
    await conn.execute(RECORD, {"buckets": list(buckets)})


async def clear(conn: AsyncConnection, bucket: str) -> None:
    await conn.execute(CLEAR, {"bucket": bucket})


def _wait(row) -> float:
    return float(row["wait"] if isinstance(row, dict) else row[0])


def describe_wait(seconds: float) -> str:
    """'42 seconds', '3 minutes': for messages that tell people when to try again."""
    if seconds <= 90:
        n = max(1, math.ceil(seconds))
        return f"{n} second{'s' if n != 1 else ''}"
    n = math.ceil(seconds / 60)
    return f"{n} minutes"
