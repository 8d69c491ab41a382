"""Run the recovery sweep on its schedule, beside the jobs of this worker process.

Not a Procrastinate job: a job needs a free slot, and the guarantee that a dead worker's runs are
taken over within STALLED_WORKER_TIMEOUT_S + SWEEP_INTERVAL_S must hold while every slot of every
live worker is busy. Several processes sweeping at the same moment is safe: stalled jobs are
claimed with SKIP LOCKED and re-queueing a run is idempotent. The sweep also moves the admin
analytics' rollup on (app/engine/analytics_fold.py; one indexed statement when nothing is due).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from psycopg_pool import AsyncConnectionPool

from app.engine.analytics_fold import fold
from app.engine.recovery import next_sweep_at, sweep
from app.schedules.jobs import rearm_overdue
from worker.wakeups import NUDGE

log = logging.getLogger("baton.sweeper")


async def sweep_on_schedule(pool: AsyncConnectionPool, stop: asyncio.Event) -> None:
    while not stop.is_set():
        delay = (next_sweep_at(datetime.now(UTC)) - datetime.now(UTC)).total_seconds()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(delay, 0))
        if stop.is_set():
            return
        try:
            async with pool.connection(timeout=5) as conn:
                recovered = await sweep(conn)
                if recovered["stalled_jobs"]:
                    await conn.execute(NUDGE)  # a retried job is not an insert: wake the fetchers
                await rearm_overdue(conn)  # a schedule whose wake-up job was lost
                await fold(conn)  # finished runs into the admin analytics' rollup
        except Exception:  # the database may be restarting; the next tick tries again
            log.warning("sweeper.error", exc_info=True)
