"""The SSE stream of one reply, as the HTMX SSE extension consumes it.

Events (data is HTML):
    text   the whole text so far, escaped: replaces the streaming text (sent first, so a
           reconnecting browser never shows a token twice)
    token  the next piece, escaped: appended
    end    the finished message fragment: replaces the whole message (and closes the stream)

If this process is writing the reply, tokens come straight from it. Otherwise (a reload that
landed on another web process) the stream follows the row: `chat.progress` / `chat.finished`
events from the live hub say when to re-read it. Either way the stream ends when the hub closes,
so a stopping server is not held up by open streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from markupsafe import escape
from psycopg_pool import AsyncConnectionPool

from app.web.chat.replies import CLOSED, LiveReply, mark_interrupted
from app.web.chat.store import Message, NotFound, get_message
from app.web.live import HubClosed, LiveHub

PING_S = 15.0
RETRY_MS = 2000


def sse(event: str, data: str) -> bytes:
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return (f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n").encode()


PING = b": ping\n\n"


async def reply_events(
    *,
    live: LiveReply | None,
    message: Message | None,
    hub: LiveHub,
    pool: AsyncConnectionPool,
    user_id: int,
    render_end: Callable[[Message], str],
) -> AsyncIterator[bytes]:
    """`live` when this process writes the reply (already authorized), else the `message` row."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    if live is not None:
        source = _from_this_process(live, render_end)
    elif message.status != "streaming":
        yield sse("end", render_end(message))
        return
    else:
        source = _from_the_row(hub, pool, user_id, message, render_end)
    async for chunk in source:
        yield chunk


async def _from_this_process(live: LiveReply, render_end) -> AsyncIterator[bytes]:
    with live.listen() as (text, queue):
        yield sse("text", str(escape(text)))
        pending = None
        while True:
            if pending is not None:
                item, pending = pending, None
            elif queue.empty():
                try:
                    item = await asyncio.wait_for(queue.get(), PING_S)
                except TimeoutError:
                    yield PING
                    continue
            else:
                item = queue.get_nowait()
            if item is CLOSED:
                return
            if isinstance(item, Message):
                yield sse("end", render_end(item))
                return
            # A slow reader gets what piled up as one event rather than falling further behind.
            pieces = [item]
            while not queue.empty():
                following = queue.get_nowait()
                if not isinstance(following, str):
                    pending = following
                    break
                pieces.append(following)
            yield sse("token", str(escape("".join(pieces))))


async def _from_the_row(
    hub: LiveHub, pool: AsyncConnectionPool, user_id: int, message: Message, render_end
) -> AsyncIterator[bytes]:
    async def current() -> Message | None:
        async with pool.connection() as conn:
            try:
                found = await get_message(conn, user_id, message.conversation_id, message.id)
            except NotFound:
                return None
            if found.status == "streaming":
                found = await mark_interrupted(conn, found.id) or found
            return found

    try:
        async with hub.subscribe(user_id) as events:
            row = await current()  # read after subscribing: no change can fall in between
            while row is not None:
                if row.status != "streaming":
                    yield sse("end", render_end(row))
                    return
                yield sse("text", str(escape(row.content)))
                while True:
                    event = await events.next(timeout=PING_S)
                    if event is None:
                        yield PING
                        break  # re-read: the writer may have died without a word
                    if (
                        event.get("kind") == "live.reconnected"
                        or event.get("message_id") == message.id
                    ):
                        break
                row = await current()
    except HubClosed:
        return
