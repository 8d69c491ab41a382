"""Live events over SSE: see `hub.py` for the payload convention and the API."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State

from app.web.live.hub import CHANNEL, HubClosed, LiveHub, Subscription, publish
from app.web.live.presence import PresenceBook

__all__ = [
    "CHANNEL",
    "HubClosed",
    "LiveHub",
    "PresenceBook",
    "Subscription",
    "lifespan",
    "provide_hub",
    "provide_presence",
    "publish",
]

log = logging.getLogger("baton.live")


def lifespan(database_url: str) -> Callable:
    """The app lifespan piece that owns `app.state.hub` and `app.state.presence` (after the piece
    that opens the pool, `app.state.services.pool`)."""

    @asynccontextmanager
    async def live(app: Litestar) -> AsyncIterator[None]:
        hub = LiveHub(database_url)
        app.state.hub = hub
        await hub.start()
        app.state.presence = PresenceBook(app.state.services.pool)
        app.state.presence.start()
        restore = _end_streams_on_signal(hub)
        try:
            yield
        finally:
            restore()
            await hub.stop()
            await app.state.presence.stop()

    return live


async def provide_hub(state: State) -> LiveHub:
    return state.hub


async def provide_presence(state: State) -> PresenceBook:
    return state.presence


def _end_streams_on_signal(hub: LiveHub) -> Callable[[], None]:
    """uvicorn tells the app it is stopping only after every response has ended, which an SSE
    stream never does by itself: it would wait out the graceful timeout, then cut the streams.
    So we chain onto its SIGTERM/SIGINT handlers and end the streams at once. Only possible in the
    main thread (tests that serve from a thread rely on the lifespan shutdown instead)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous = {}

    def handler(signum, frame):
        loop.call_soon_threadsafe(hub.begin_closing)
        chained = previous.get(signum)
        if callable(chained):
            chained(signum, frame)
        elif chained is not None:  # SIG_DFL / SIG_IGN: let the signal do what it did before us
            signal.signal(signum, chained)
            signal.raise_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handler)

    def restore() -> None:
        for signum, old in previous.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, old)

    return restore
