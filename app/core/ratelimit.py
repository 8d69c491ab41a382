"""The one rate limiter: named limits counted in Postgres, so each holds across every web process
and every worker.

One algorithm — a sliding-window log, one row per counted event in `rate_events` — and one SQL
function, `rate_limit_take` (sql/0036_one_rate_limiter.sql), which checks and counts atomically
under a per-bucket advisory lock. A limit never blocks: a caller over its limit learns how long
until a slot frees and decides what to do with that — the web answers 429 / "try again in 42
seconds", the engine suspends a fan-out child until then (`next_slot`), never sleeping in a worker.

Where each limit's numbers come from:
- chat messages and API calls: the user's tier (`tiers.chat_per_minute`, `tiers.api_per_minute`,
  editable by admins), a minute window; read in the same statement that counts (`TAKE_TIER_SLOT`);
- login attempts and sign-ups: the constants below;
- deliveries to a trigger from outside: the trigger's own `rate_per_minute`;
- model and other fan-out calls (`run.map(..., limit=RateLimit(...))`): the workflow gives them,
  e.g. the document summaries' `BATON_DOC_SUMMARY_RATE`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import AsyncConnection


@dataclass(frozen=True)
class RateLimit:
    """At most `max_calls` in any window of `per_seconds` (at most a day), counted across all
    processes. `name` is the bucket's key; the named limits below build it."""

    name: str
    max_calls: int
    per_seconds: float = 60.0


@dataclass(frozen=True)
class TierLimit:
    """A per-user limit whose number of calls a minute is a column of the user's tier."""

    prefix: str
    tier_column: str

    def bucket(self, user_id: int) -> str:
        return f"{self.prefix}:{user_id}"


# Failed logins allowed per 15 minutes: per account (guessing one password) and per IP (trying
# many accounts). Sign-ups per IP per hour.
LOGIN_WINDOW_S = 15 * 60
LOGIN_PER_ACCOUNT = 5
LOGIN_PER_IP = 20
SIGNUPS_PER_IP_PER_HOUR = 10

CHAT_MESSAGES = TierLimit("chat", "chat_per_minute")
# Per user, not per key: more API keys must not mean a higher limit.
API_CALLS = TierLimit("api", "api_per_minute")


def login_attempts_for_account(email: str) -> RateLimit:
    return RateLimit(f"login:account:{email}", LOGIN_PER_ACCOUNT, LOGIN_WINDOW_S)


def login_attempts_from_ip(ip: str) -> RateLimit:
    return RateLimit(f"login:ip:{ip}", LOGIN_PER_IP, LOGIN_WINDOW_S)


def signups_from_ip(ip: str) -> RateLimit:
    return RateLimit(f"signup:ip:{ip}", SIGNUPS_PER_IP_PER_HOUR, 3600)


def trigger_deliveries(trigger_id: str, per_minute: int) -> RateLimit:
    """Deliveries to one trigger (`POST /hooks/t/<id>`): its own number a minute, set by its owner."""
    return RateLimit(f"trigger:{trigger_id}", per_minute, 60)


def calls(limit: RateLimit) -> RateLimit:
    """A workflow's limit on its fan-out calls (model calls and the like), kept apart from the
    web's buckets whatever the workflow names it."""
    return RateLimit(f"calls:{limit.name}", limit.max_calls, limit.per_seconds)


# Counts one event if the bucket has room: `wait` is 0, or the seconds until a slot frees (nothing
# counted); `now` is the database's clock, which the engine schedules the retry by.
TAKE = """
SELECT rate_limit_take(%(bucket)s, %(max_calls)s, make_interval(secs => %(per_seconds)s), true) AS wait,
       clock_timestamp() AS now
"""
# The tier's number and the slot in one round trip. The column is chosen by name from a fixed list
# (a bound parameter, never interpolated).
TAKE_TIER_SLOT = """
SELECT rate_limit_take(%(bucket)s, n.max_calls, interval '1 minute', true) AS wait, n.max_calls
FROM tiers t,
     LATERAL (SELECT CASE %(column)s WHEN 'chat_per_minute' THEN t.chat_per_minute
                                     WHEN 'api_per_minute' THEN t.api_per_minute END AS max_calls) n
WHERE t.name = %(tier)s
"""
# Gives back the most recent event of a bucket (an attempt counted up front that turned out fine).
REFUND_LAST = """
DELETE FROM rate_events WHERE ctid = (
    SELECT ctid FROM rate_events WHERE bucket = %(bucket)s ORDER BY at DESC LIMIT 1)
"""
CLEAR = "DELETE FROM rate_events WHERE bucket = %(bucket)s"


async def take(conn: AsyncConnection, limit: RateLimit) -> float:
    """Count one call if the limit has room: returns 0, or the seconds to wait (nothing counted)."""
    row = await (
        await conn.execute(
            TAKE,
            {"bucket": limit.name, "max_calls": limit.max_calls, "per_seconds": limit.per_seconds},
        )
    ).fetchone()
    return float(row["wait"])


async def next_slot(conn: AsyncConnection, limit: RateLimit) -> datetime | None:
    """Take a slot now (None), or learn when one frees up, by the database's clock: for callers
    that suspend until then rather than answer "try again later"."""
    row = await (
        await conn.execute(
            TAKE,
            {"bucket": limit.name, "max_calls": limit.max_calls, "per_seconds": limit.per_seconds},
        )
    ).fetchone()
    return row["now"] + timedelta(seconds=row["wait"]) if row["wait"] else None


async def take_tier_slot(
    conn: AsyncConnection, limit: TierLimit, user_id: int, tier: str
) -> tuple[float, int]:
    """Count one call of the user under their tier's limit: (seconds to wait or 0, the tier's calls
    a minute)."""
    row = await (
        await conn.execute(
            TAKE_TIER_SLOT,
            {"bucket": limit.bucket(user_id), "column": limit.tier_column, "tier": tier},
        )
    ).fetchone()
    if row is None:
        raise LookupError(f"no tier {tier!r}")
    return float(row["wait"]), row["max_calls"]


async def refund_last(conn: AsyncConnection, limit: RateLimit) -> None:
    await conn.execute(REFUND_LAST, {"bucket": limit.name})


async def clear(conn: AsyncConnection, limit: RateLimit) -> None:
    await conn.execute(CLEAR, {"bucket": limit.name})


def describe_wait(seconds: float) -> str:
    """'42 seconds', '3 minutes': for messages that tell people when to try again."""
    if seconds <= 90:
        n = max(1, math.ceil(seconds))
        return f"{n} second{'s' if n != 1 else ''}"
    n = math.ceil(seconds / 60)
    return f"{n} minutes"
