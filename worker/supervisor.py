"""Keep this process's worker running: start a new incarnation, with backoff, whenever it stops.

A Procrastinate worker stops for good when its LISTEN connection or heartbeat fails, which every
database restart or failover causes; it also stops on any unexpected error. The supervisor starts a
new `WorkerHandle` (1 s, 2 s, 4 s... at most 5 s apart) until one registers again, releasing the
dead incarnation's jobs as it starts (see `WorkerHandle.dead_worker_ids`).

`problem` says why no worker runs right now (None while one does); `/healthz` answers 503 with it.
With `max_outage_s` (`baton worker`, BATON_DB_OUTAGE_MAX), `run()` raises `WorkerGaveUp` once the
worker has been down that long, so the process exits non-zero and its own supervisor acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from psycopg_pool import AsyncConnectionPool

from worker.runner import WorkerHandle

log = logging.getLogger("baton.worker.supervisor")

BACKOFF_MIN_S, BACKOFF_MAX_S = 1.0, 5.0
# How often a running incarnation is checked: it counts as up once Procrastinate has registered it.
CHECK_S = 0.25


class WorkerGaveUp(Exception):
    """The worker could not run again within the allowed outage."""


class WorkerSupervisor:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        concurrency: int = 8,
        name: str | None = None,
        max_outage_s: float | None = None,
    ):
        self.pool = pool
        self.concurrency = concurrency
        self.name = name
        self.max_outage_s = max_outage_s
        self.restarts = 0
        self._handle: WorkerHandle | None = None
        self._reason: str | None = "starting"
        self._down_since = time.monotonic()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def problem(self) -> str | None:
        """Why no worker runs in this process right now; None while one does."""
        return self._reason

    async def run(self) -> None:
        delay = BACKOFF_MIN_S
        dead_ids: list[int] = []
        while not self._stopping.is_set():
            handle = self._handle = WorkerHandle(
                self.pool, concurrency=self.concurrency, name=self.name, dead_worker_ids=dead_ids
            )
            task = asyncio.create_task(handle.run(), name="baton-worker")
            try:
                while not task.done():
                    await asyncio.wait({task}, timeout=CHECK_S)
                    if handle.running and self._reason is not None:
                        self._up()
                        delay = BACKOFF_MIN_S
                    elif not handle.running and self._reason is None:
                        self._down(
                            "worker stopping: a side task failed (most likely its database connection)"
                        )
                    self._check_outage()
            except BaseException:  # stop() cancelled us, or the outage is over the limit
                await _cancel(task)
                raise
            if self._stopping.is_set():
                return
            exc = task.exception()
            cause = (
                f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                if exc
                else "a side task failed"
            )
            # Not unregistered: its jobs stay `doing` under its id until the next incarnation
            # releases them (all its job tasks have ended: Procrastinate awaits them before returning).
            dead_ids = [*handle.dead_worker_ids, *([handle.worker_id] if handle.worker_id else [])]
            self._down(f"worker down, restarting: {cause}")
            self._check_outage()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
            self.restarts += 1

    def _up(self) -> None:
        log.info(
            "worker.running",
            extra={
                "after_s": round(time.monotonic() - self._down_since, 1),
                "restarts": self.restarts,
            },
        )
        self._reason = None

    def _down(self, reason: str) -> None:
        if self._reason is None:
            self._down_since = time.monotonic()
        self._reason = reason
        log.warning(
            "worker.down",
            extra={"reason": reason, "down_s": round(time.monotonic() - self._down_since, 1)},
        )

    def _check_outage(self) -> None:
        if self._reason is None or self.max_outage_s is None:
            return
        if time.monotonic() - self._down_since > self.max_outage_s:
            raise WorkerGaveUp(
                f"the worker could not run for {self.max_outage_s:g} s "
                f"(BATON_DB_OUTAGE_MAX); last: {self._reason}"
            )

    def start(self) -> asyncio.Task:
        self._task = asyncio.create_task(self.run(), name="baton-worker-supervisor")
        return self._task

    async def stop(self) -> None:
        self._stopping.set()
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WorkerGaveUp):
                await self._task


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
