"""This process's share of presence (app/core/presence.py): which page each open live stream shows.

    async with book.on_page(user_id, "/chat/12"):
        ...stream events...

A stream enters one row when it opens and deletes it when it ends. One task per process touches
every open stream's row in a single UPDATE every TOUCH_S, so the cost is one query per process per
interval, whatever the number of open pages. If the process dies, its rows expire by themselves.
Presence is a convenience (fewer e-mails), never a correctness matter: a database error here is
logged and the stream goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg_pool import AsyncConnectionPool

from app.core import presence

log = logging.getLogger("baton.presence")


class PresenceBook:
    def __init__(self, pool: AsyncConnectionPool, touch_s: float = presence.TOUCH_S):
        self.pool = pool
        self.touch_s = touch_s
        self._open: set[uuid.UUID] = set()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._touch_forever(), name="presence-touch")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @asynccontextmanager
    async def on_page(self, user_id: int, page: str) -> AsyncIterator[None]:
        stream_id = uuid.uuid4()
        entered = await self._quietly(presence.enter, stream_id, user_id, page)
        if entered:
            self._open.add(stream_id)
        try:
            yield
        finally:
            if entered:
                self._open.discard(stream_id)
                # Shielded: a stream ends by cancellation when the browser goes away.
                await asyncio.shield(self._quietly(presence.leave, stream_id))

    async def _touch_forever(self) -> None:
        while True:
            await asyncio.sleep(self.touch_s)
            await self._quietly(presence.touch, list(self._open))

    async def _quietly(self, action, *args) -> bool:
        try:
            async with self.pool.connection() as conn:
                await action(conn, *args)
        except (psycopg.Error, OSError) as exc:
            log.warning(
                "presence.failed",
                extra={"action": action.__name__, "error": f"{type(exc).__name__}: {exc}"[:300]},
            )
            return False
        return True
