"""Wake workers when a scheduled job falls due, instead of waiting for the next poll; and queue
the jobs of wake-ups that came within the horizon (the waker, app/engine/jobs.py).

Procrastinate learns about new jobs from NOTIFY at insert time, but a job scheduled for later is
only noticed by polling (`fetch_job_polling_interval`, 5 s by default). Polling fast would cost a
full fetch query per worker many times a second; instead each worker process watches the earliest
`scheduled_at` with one indexed query, sleeps until that moment, and sends the same notification
an insert would. Duplicated nudges from several workers are harmless: fetching is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from app.engine.jobs import queue_due_wakeups, wake_horizon_s

log = logging.getLogger("baton.wakeups")

# How far ahead one look covers; a job deferred for sooner than this is caught on the next look.
LOOKAHEAD_S = 0.2
# Back-off between failed looks while the database is unreachable.
RETRY_MIN_S, RETRY_MAX_S = 0.5, 5.0

NEXT_DUE = """
SELECT min(scheduled_at) AS due FROM procrastinate_jobs
WHERE status = 'todo' AND scheduled_at > %(after)s
"""
NUDGE = (
    """SELECT pg_notify('procrastinate_any_queue_v1', '{"type": "job_inserted", "job_id": 0}')"""
)


async def nudge_scheduled_jobs(pool: AsyncConnectionPool, stop: asyncio.Event) -> None:
    # Jobs due up to `after` have been nudged; a job that turned due while no one looked (at start,
    # or moved earlier) is nudged at once.
    after = datetime.now(UTC) - timedelta(seconds=1)
    backoff = RETRY_MIN_S
    while not stop.is_set():
        try:
            async with pool.connection() as conn:
                due = (await (await conn.execute(NEXT_DUE, {"after": after})).fetchone())["due"]
                delay = (due - datetime.now(UTC)).total_seconds() if due else None
                if due is not None and delay <= LOOKAHEAD_S:
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await conn.execute(NUDGE)
                    after = due
                    continue
            backoff = RETRY_MIN_S
        except Exception:  # the database may be restarting: try again, less and less often
            log.warning("wakeups.error", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, RETRY_MAX_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LOOKAHEAD_S)


def waker_interval_s(horizon_s: float) -> float:
    """A tenth of the horizon, between 0.5 and 30 s: a wake-up is queued at least nine tenths of
    the horizon before it is due (4.5 minutes by default; half of it for a horizon under 5 s),
    which leaves the nudger time to see it."""
    return min(max(horizon_s / 10, 0.5), 30.0)


async def queue_wakeups_on_schedule(pool: AsyncConnectionPool, stop: asyncio.Event) -> None:
    """The waker: every few seconds, queue the runs and hook reminders due within the horizon.
    Every worker process runs one; they agree through the runs' queueing locks."""
    while not stop.is_set():
        horizon_s = wake_horizon_s()
        try:
            async with pool.connection(timeout=5) as conn:
                await queue_due_wakeups(conn, horizon_s)
        except Exception:  # the database may be restarting; the next pass tries again
            log.warning("waker.error", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), waker_interval_s(horizon_s))
