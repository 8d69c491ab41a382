"""The one Procrastinate `App`. Tasks register on it at import.

Its connector takes the pool from the running worker's context (`worker_pool`), set by
`worker.runner.WorkerHandle` before it starts: every task the worker spawns (jobs, heartbeat,
listener, periodic deferrer) inherits it. Swapping the App's connector instead would let two
workers in one process (tests, `baton runs selftest`) redirect each other's fetches, heartbeats and
`context.app.connector.pool` to the other's database.

Jobs are deferred with plain SQL inside our own transactions (`app.engine.jobs`), so the queue is
only used here for task registration and for running workers.
"""

from __future__ import annotations

from contextvars import ContextVar

import procrastinate
from procrastinate import exceptions
from psycopg_pool import AsyncConnectionPool

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


queue = procrastinate.App(connector=WorkerPoolConnector(), import_paths=["worker.tasks"])
