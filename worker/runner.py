"""Run a Procrastinate worker inside an asyncio program (the `baton serve` lifespan or `baton worker`).

No signal handlers are installed here: the host process owns signals and calls `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from psycopg_pool import AsyncConnectionPool

from app.core.queue import queue, worker_pool
from worker.wakeups import nudge_scheduled_jobs

log = logging.getLogger("baton.worker")

# Seconds a running job may take to finish when the process is asked to stop; after that it is
# aborted and the recovery sweep of the next worker retries it (replay makes that safe).
GRACEFUL_S = 3.0


class WorkerHandle:
    def __init__(self, pool: AsyncConnectionPool, *, concurrency: int = 8, name: str | None = None):
        self.pool = pool
        self.concurrency = concurrency
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def run(self) -> None:
        import worker.tasks  # noqa: F401  (registers the tasks)

        token = worker_pool.set(self.pool)
        try:
            await self._sweep_once()
            nudger = asyncio.create_task(nudge_scheduled_jobs(self.pool, self._stop))
            try:
                log.info(
                    "worker.started",
                    extra={"worker": self.name, "concurrency": self.concurrency},
                )
                await queue.run_worker_async(
                    name=self.name,
                    concurrency=self.concurrency,
                    install_signal_handlers=False,
                    shutdown_graceful_timeout=GRACEFUL_S,
                    fetch_job_polling_interval=5.0,
                    update_heartbeat_interval=5.0,
                    stalled_worker_timeout=20.0,
                    delete_jobs="successful",
                )
            finally:
                self._stop.set()
                await nudger
                log.info("worker.stopped", extra={"worker": self.name})
        finally:
            worker_pool.reset(token)

    async def _sweep_once(self) -> None:
        """Recover what a previous crash left behind before taking new work."""
        from app.engine.recovery import sweep

        try:
            async with self.pool.connection() as conn:
                await sweep(conn)
        except Exception:
            log.warning("worker.startup_sweep_failed", exc_info=True)

    def start(self) -> asyncio.Task:
        self._task = asyncio.create_task(self.run(), name="baton-worker")
        return self._task

    async def stop(self) -> None:
        self._stop.set()
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
