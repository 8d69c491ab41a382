"""Live events: one LISTEN connection per web process, fanned out to in-process subscribers.

Payload convention (channel `baton_events`): a JSON object with at least
    user_id  int  -- whose browser may see it; subscribers only get their own user's events
    kind     str  -- dotted name, area first: "chat.stop", "chat.progress", "run.step", ...
    space_id int  -- optional: the event also reaches subscribers following that space (a run's
                     events carry their run's space, so every member viewing a team sees them)
plus whatever the kind needs (ids, a status). Keep payloads small (Postgres caps them at 8000
bytes): say *what* changed and let the subscriber read the rows it renders.

Publish from anywhere with SQL in the same transaction as the change it announces, so nobody sees
an event before the data (NOTIFY is delivered at commit):
    SELECT pg_notify('baton_events', %s)        -- parameter: the JSON text
or `await publish(conn, user_id, "kind", ...)` from web code.

Subscribe from a handler (with `space_id`: also the events of that space; authorize it first):
    async with hub.subscribe(user.id, space_id=user.space.id) as events:
        async for event in events: ...          # ends when the hub shuts down
        event = await events.next(timeout=15)   # None on timeout

Events are not stored: a subscriber sees what is published while it listens. After the LISTEN
connection drops and comes back (missed events are possible), every subscriber receives
{"kind": "live.reconnected", "user_id": ...} so it can re-read what it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql

log = logging.getLogger("baton.live")

CHANNEL = "baton_events"
MAX_PAYLOAD = 7900
QUEUE_SIZE = 256
APPLICATION_NAME = "baton-live"  # how the LISTEN connection shows in pg_stat_activity
# The LISTEN socket is otherwise silent: probe it this often, so a dead connection is noticed.
PROBE_S = 15.0


class HubClosed(Exception):
    """The hub shut down: the process is stopping."""


async def publish(conn: psycopg.AsyncConnection, user_id: int, kind: str, **fields) -> None:
    """Announce an event; it is delivered when `conn`'s transaction commits."""
    payload = json.dumps(
        {"user_id": user_id, "kind": kind, **fields}, separators=(",", ":"), default=str
    )
    if len(payload.encode()) > MAX_PAYLOAD:
        raise ValueError(f"live event {kind!r} is too large to publish ({len(payload)} bytes)")
    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


class Subscription:
    def __init__(self, hub: LiveHub, user_id: int, space_id: int | None = None):
        self.user_id = user_id
        self.space_id = space_id
        self._hub = hub
        self._queue: asyncio.Queue[dict | None] = asyncio.Queue(QUEUE_SIZE)

    def _put(self, event: dict | None) -> None:
        if self._queue.full():  # a stuck reader must not hold the others up: drop its oldest
            self._queue.get_nowait()
            log.warning("live.queue_overflow", extra={"user_id": self.user_id})
        self._queue.put_nowait(event)

    async def next(self, timeout: float | None = None) -> dict | None:
        """The next event, or None after `timeout` seconds; raises HubClosed at shutdown."""
        if self._hub.closing.is_set():
            raise HubClosed
        try:
            event = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        if event is None:
            raise HubClosed
        return event

    def __aiter__(self) -> AsyncIterator[dict]:
        return self

    async def __anext__(self) -> dict:
        while True:
            try:
                event = await self.next(timeout=None)
            except HubClosed:
                raise StopAsyncIteration from None
            if event is not None:
                return event


def _forget(index: dict[int, set[Subscription]], key: int, sub: Subscription) -> None:
    subs = index.get(key)
    if subs is not None:
        subs.discard(sub)
        if not subs:
            del index[key]


class LiveHub:
    def __init__(self, url: str, *, channel: str = CHANNEL):
        self.url = url
        self.channel = channel
        self.closing = asyncio.Event()
        self.connected = asyncio.Event()
        self._subscribers: dict[int, set[Subscription]] = {}
        self._by_space: dict[int, set[Subscription]] = {}  # the same subscriptions, by space
        self._on_closing: list[Callable[[], None]] = []
        self._task: asyncio.Task | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, wait: float = 10.0) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="live-hub")
        try:
            await asyncio.wait_for(self.connected.wait(), wait)
        except TimeoutError:
            log.warning("live.not_connected_yet")  # keeps trying in the background

    def begin_closing(self) -> None:
        """End every subscription now (SSE responses finish); safe to call more than once."""
        if self.closing.is_set():
            return
        self.closing.set()
        for subs in self._subscribers.values():
            for sub in subs:
                sub._put(None)
        for callback in self._on_closing:
            callback()

    def on_closing(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the hub starts closing (e.g. to end other kinds of streams)."""
        self._on_closing.append(callback)

    async def stop(self) -> None:
        self.begin_closing()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- subscribers ---------------------------------------------------------------------------
    @asynccontextmanager
    async def subscribe(
        self, user_id: int, *, space_id: int | None = None
    ) -> AsyncIterator[Subscription]:
        """The user's events, and with `space_id` also every event of that space (the caller has
        checked the user is a member)."""
        sub = Subscription(self, user_id, space_id)
        self._subscribers.setdefault(user_id, set()).add(sub)
        if space_id is not None:
            self._by_space.setdefault(space_id, set()).add(sub)
        try:
            yield sub
        finally:
            _forget(self._subscribers, user_id, sub)
            if space_id is not None:
                _forget(self._by_space, space_id, sub)

    def dispatch(self, payload: str) -> None:
        try:
            event = json.loads(payload)
            user_id = event["user_id"]
        except (ValueError, TypeError, KeyError):
            log.warning("live.bad_payload", extra={"payload": payload[:200]})
            return
        for sub in self._subscribers.get(user_id, ()):
            sub._put(event)
        space_id = event.get("space_id")
        if space_id is not None:  # the space's other members (the user's own subs got it above)
            for sub in self._by_space.get(space_id, ()):
                if sub.user_id != user_id:
                    sub._put(event)

    # -- the LISTEN connection -----------------------------------------------------------------
    async def _listen_forever(self) -> None:
        backoff = 0.1
        ever_connected = False
        while not self.closing.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url,
                    autocommit=True,
                    application_name=APPLICATION_NAME,
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    if ever_connected:
                        log.info("live.reconnected")
                        for user_id in list(self._subscribers):
                            self.dispatch(
                                json.dumps({"user_id": user_id, "kind": "live.reconnected"})
                            )
                    ever_connected = True
                    self.connected.set()
                    backoff = 0.1
                    while True:
                        async for notify in conn.notifies(timeout=PROBE_S):
                            self.dispatch(notify.payload)
                        await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                log.warning(
                    "live.disconnected", extra={"error": f"{type(exc).__name__}: {exc}"[:300]}
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), backoff)
            backoff = min(backoff * 2, 5.0)
