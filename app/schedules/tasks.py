"""The schedules' Procrastinate tasks (registered by worker/tasks.py), under the task names of
app/core/queue.py."""

from __future__ import annotations

from app.core.config import load_settings
from app.core.queue import SCHEDULE_FIRES_RETENTION, SCHEDULE_RUN_ENDED, SCHEDULES_DUE, queue
from app.schedules.jobs import call_helpers, fire_due, prune_fires, run_ended


@queue.task(name=SCHEDULES_DUE, pass_context=True)
async def schedules_due(context, at: str | None = None, helper: bool = False) -> None:
    """Fire every schedule due now. `at` is the fire time the job was queued for (logs only);
    helpers are extra jobs of a crowded moment, which call in no helpers of their own."""
    async with context.app.connector.pool.connection() as conn:
        if not helper:
            await call_helpers(conn)
        await fire_due(conn)


@queue.task(name=SCHEDULE_RUN_ENDED, pass_context=True)
async def schedule_run_ended(context, schedule_id: str, status: str) -> None:
    async with context.app.connector.pool.connection() as conn:
        await run_ended(conn, schedule_id, status)


@queue.periodic(cron="23 * * * *")
@queue.task(
    name=SCHEDULE_FIRES_RETENTION, queueing_lock=SCHEDULE_FIRES_RETENTION, pass_context=True
)
async def schedule_fires_retention(context, timestamp: int) -> None:
    async with context.app.connector.pool.connection() as conn:
        await prune_fires(conn, load_settings().retention_days)
