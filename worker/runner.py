"""Run a Procrastinate worker inside an asyncio program (the `baton serve` lifespan or `baton worker`).

One `WorkerHandle` is one incarnation: it sweeps, starts the Procrastinate worker with the
wake-up nudger, the waker and the recovery sweeper beside it, and ends when that worker ends. Procrastinate
stops a worker for good when one of its side tasks fails (the LISTEN connection, the heartbeat),
which is what a database restart does; worker/supervisor.py starts a new incarnation.

No signal handlers are installed here: the host process owns signals and calls `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from procrastinate.worker import Worker
from psycopg_pool import AsyncConnectionPool

from app.core.queue import queue, worker_pool
from app.engine.recovery import STALLED_WORKER_TIMEOUT_S, release_workers, sweep
from worker.deploy_check import check_deploy_in_background
from worker.sweeper import sweep_on_schedule
from worker.wakeups import nudge_scheduled_jobs, queue_wakeups_on_schedule

log = logging.getLogger("baton.worker")

# Seconds a running job may take to finish when the process is asked to stop; after that it is
# aborted and the recovery sweep of the next worker retries it (replay makes that safe).
GRACEFUL_S = 3.0
HEARTBEAT_S = 5.0


class _Worker(Worker):
    """Procrastinate's worker, noting when it was asked to stop: a failed side task (the LISTEN
    connection, the heartbeat) calls `stop()` and the worker then winds down for up to the graceful
    timeout plus the time it takes to record its jobs' outcomes, with no work being fetched."""

    stop_requested = False

    def stop(self) -> None:
        self.stop_requested = True
        super().stop()


class WorkerHandle:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        concurrency: int = 8,
        name: str | None = None,
        dead_worker_ids: list[int] | None = None,
    ):
        self.pool = pool
        self.concurrency = concurrency
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        # Earlier incarnations in this process that could not unregister: released before sweeping.
        self.dead_worker_ids = list(dead_worker_ids or [])
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._worker: Worker | None = None

    @property
    def worker_id(self) -> int | None:
        """The id Procrastinate registered this worker under; None before it registers and after
        it unregisters. Still set once the worker has ended if unregistering failed (database gone).
        (Procrastinate's `Worker.worker_id` attribute.)"""
        return self._worker.worker_id if self._worker else None

    @property
    def running(self) -> bool:
        """Registered and fetching work (not winding down)."""
        return self.worker_id is not None and not (self._worker and self._worker.stop_requested)

    async def run(self) -> None:
        import worker.tasks  # noqa: F401  (registers the tasks)

        token = worker_pool.set(self.pool)
        try:
            await self._sweep_once()
            self._worker = _Worker(
                app=queue,
                name=self.name,
                concurrency=self.concurrency,
                install_signal_handlers=False,
                shutdown_graceful_timeout=GRACEFUL_S,
                fetch_job_polling_interval=5.0,
                update_heartbeat_interval=HEARTBEAT_S,
                stalled_worker_timeout=STALLED_WORKER_TIMEOUT_S,
                delete_jobs="successful",
            )
            side = [
                asyncio.create_task(
                    nudge_scheduled_jobs(self.pool, self._stop), name="baton-nudger"
                ),
                asyncio.create_task(sweep_on_schedule(self.pool, self._stop), name="baton-sweeper"),
                asyncio.create_task(
                    queue_wakeups_on_schedule(self.pool, self._stop), name="baton-waker"
                ),
                asyncio.create_task(
                    check_deploy_in_background(self.pool, self.name), name="baton-deploy-check"
                ),
            ]
            try:
                log.info(
                    "worker.started", extra={"worker": self.name, "concurrency": self.concurrency}
                )
                await self._worker.run()
            finally:
                self._stop.set()
                for (
                    task
                ) in side:  # one may be waiting for a connection of a pool whose database is gone
                    task.cancel()
                await asyncio.gather(*side, return_exceptions=True)
                log.info("worker.stopped", extra={"worker": self.name})
        finally:
            worker_pool.reset(token)

    async def _sweep_once(self) -> None:
        """Recover what a previous crash left behind before taking new work. Raises if the
        database cannot be reached: the supervisor tries again."""
        async with self.pool.connection() as conn:
            if self.dead_worker_ids:
                await release_workers(conn, self.dead_worker_ids)
                self.dead_worker_ids = []
            await sweep(conn)

    def start(self) -> asyncio.Task:
        self._task = asyncio.create_task(self.run(), name="baton-worker")
        return self._task

    async def stop(self) -> None:
        self._stop.set()
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
