"""The one Procrastinate `App`. Tasks register on it at import.

Its connector takes the pool from the running worker's context (`worker_pool`), set by
`worker.runner.WorkerHandle` before it starts: every task the worker spawns (jobs, heartbeat,
listener, periodic deferrer) inherits it. Swapping the App's connector instead would let two
workers in one process (tests, `baton runs selftest`) redirect each other's fetches, heartbeats and
`context.app.connector.pool` to the other's database.

Jobs are queued with plain SQL inside our own transactions, so that "saved" and "queued" commit
together: `defer` below is the one way to queue a job (and `baton_wake_run`, sql/0005, the one
way to queue a run's advance job, which is coalesced by its queueing lock). Each task name is a
constant here, used by its `@queue.task` and by whatever queues it. The Procrastinate internals
this relies on are listed in docs/engine.md ("Procrastinate: what Baton relies on").
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any

import procrastinate
from procrastinate import exceptions
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
DEFER = SQL["defer"]
DEFER_ONCE = SQL["defer_once"]

# The queue of every job Baton queues itself (baton_wake_run too); workers listen to all queues.
QUEUE = "baton"
# The task names. Renaming one strands the jobs already queued under the old name: keep the old
# task registered until they have run.
ADVANCE_RUN = "baton.advance_run"  # also written by baton_wake_run in sql/0005_engine.sql
RUN_CHILD = "baton.run_child"
HOOK_REMINDER = "baton.hook_reminder"
RETENTION = "baton.retention"
NOTICE_RECHECK = "baton.notice_recheck"
DAILY_DIGEST = "baton.daily_digest"
SEND_MAIL = "baton.send_mail"
SCHEDULES_DUE = "baton.schedules_due"  # fires every schedule due (app/schedules/tasks.py)
SCHEDULE_RUN_ENDED = (
    "baton.schedule_run_ended"  # a scheduled run ended: buffer-one, failures in a row
)
SCHEDULE_FIRES_RETENTION = "baton.schedule_fires_retention"
REPLAY_TICK = "baton.replay_tick"

worker_pool: ContextVar[AsyncConnectionPool | None] = ContextVar("baton_worker_pool", default=None)


class WorkerPoolConnector(procrastinate.PsycopgConnector):
    @property
    def pool(self) -> AsyncConnectionPool:
        pool = worker_pool.get()
        if pool is None:
            raise exceptions.AppNotOpen
        return pool

    # The pool belongs to its worker, which opens and closes it; there is nothing to do here.
    async def open_async(self, pool: AsyncConnectionPool | None = None) -> None:
        return None

    async def close_async(self) -> None:
        return None


async def defer(
    conn: AsyncConnection,
    task: str,
    *args: dict[str, Any],
    at: datetime | None = None,
    after_s: float | None = None,
) -> None:
    """Queue one job of `task` per `args` (its keyword arguments) in the caller's transaction, to
    run at `at`, or `after_s` seconds from the database's now, or else at once. Such jobs carry no
    lock: they run in parallel, on any worker."""
    if args:
        await conn.execute(
            DEFER,
            {"queue": QUEUE, "task": task, "args": Jsonb(list(args)), "at": at, "after_s": after_s},
        )


async def defer_once(
    conn: AsyncConnection,
    task: str,
    args: dict[str, Any],
    *,
    queueing_lock: str,
    at: datetime | None = None,
) -> None:
    """Queue a job of `task` unless one with the same `queueing_lock` is still waiting to start
    (Procrastinate's queueing lock): many callers wanting "a job at this time" make one job. Once
    that job has started, a new call queues another, so work arriving while it runs is not lost."""
    await conn.execute(
        DEFER_ONCE,
        {"queue": QUEUE, "task": task, "args": Jsonb(args), "lock": queueing_lock, "at": at},
    )


queue = procrastinate.App(connector=WorkerPoolConnector(), import_paths=["worker.tasks"])
