"""The engine's Procrastinate tasks. Their jobs are queued with SQL (app/engine/jobs.py), under
the task name constants of app/core/queue.py.

The recovery sweep is not a job: a job waits for a free slot, and a worker whose slots are all busy
must still take over a dead worker's runs. Each worker process runs it beside its jobs
(worker/sweeper.py)."""

from __future__ import annotations

from procrastinate import RetryStrategy

from app.core.config import load_settings
from app.core.queue import ADVANCE_RUN, HOOK_REMINDER, REPLAY_TICK, RETENTION, RUN_CHILD, queue
from app.engine.advance import advance
from app.engine.hooks import send_hook_reminder
from app.engine.mapping import run_child
from app.engine.replays import tick as replay_tick
from app.engine.retention import (
    prune_audit_log,
    prune_finished_jobs,
    prune_finished_runs,
    prune_invitations,
)


@queue.task(name=ADVANCE_RUN, pass_context=True)
async def advance_run(context, run_id: str) -> None:
    await advance(context.app.connector.pool, run_id)


@queue.task(name=RUN_CHILD, pass_context=True)
async def run_child_task(context, run_id: str, seq: int, idx: int) -> None:
    await run_child(context.app.connector.pool, run_id, seq, idx)


@queue.task(name=HOOK_REMINDER, pass_context=True)
async def hook_reminder(context, hook_id: int) -> None:
    async with context.app.connector.pool.connection() as conn:
        await send_hook_reminder(conn, hook_id)


# A tick that failed (the database went away mid-way) rolled back whole: trying it again is safe,
# and without it the replay would never move on.
@queue.task(
    name=REPLAY_TICK, pass_context=True, retry=RetryStrategy(max_attempts=10, exponential_wait=1)
)
async def replay_tick_task(context, replay_id: int, tick: int) -> None:
    await replay_tick(context.app.connector.pool, replay_id, tick)


@queue.periodic(cron="17 * * * *")
@queue.task(name=RETENTION, queueing_lock=RETENTION, pass_context=True)
async def periodic_retention(context, timestamp: int) -> None:
    async with context.app.connector.pool.connection() as conn:
        await prune_finished_runs(conn, load_settings().retention_days)
        await prune_audit_log(conn, load_settings().retention_days)
        await prune_invitations(conn, load_settings().retention_days)
        await prune_finished_jobs(conn)
