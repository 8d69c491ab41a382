"""Writing replies: one asyncio task per reply, in the web process that took the message.

The task streams from the model into a `LiveReply`, which hands each delta to the SSE responses
of this process at once. Every FLUSH_S it also writes the text so far to the row and announces
`chat.progress` on the live hub, so a page reloaded onto another process shows it too; the write
doubles as a heartbeat (a row not written for STALE_S lost its process, see `mark_interrupted`).

Stop works from any process: the Stop request flags the row and publishes `chat.stop`; the
process generating the reply hears it through its hub subscription (or sees the flag at its next
flush) and cancels the model call, keeping the text so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterator

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from app.core.llm import LLM, Completion, ModelError, trim_to_budget
from app.core.markdown import render_markdown
from app.web.chat.proposals import proposable_templates, proposal_from, proposal_tools
from app.web.chat.store import COLUMNS, Message, load_context, message_from
from app.web.live import CHANNEL, LiveHub

log = logging.getLogger("baton.chat")

SYSTEM_PROMPT = (
    "You are Baton's assistant. Answer clearly and concisely, and use Markdown when it helps."
)
# Tokens of history sent with each message: fits 8k-context local models with room to answer.
CONTEXT_BUDGET = 6000
FLUSH_S = 0.5
HEARTBEAT_S = 5.0
STALE_S = 30.0
INTERRUPTED = "The reply was interrupted because the server restarted."
CLOSED = object()  # handed to listeners when the process stops


class LiveReply:
    """A reply being written in this process, and the SSE responses listening to it."""

    def __init__(
        self, user_id: int, conversation_id: int, message_id: int, space_id: int | None = None
    ):
        self.user_id = user_id
        self.space_id = space_id  # the space whose templates the model may offer (None: personal)
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.parts: list[str] = []
        self.stop_requested = False
        self.task: asyncio.Task | None = None
        self._listeners: set[asyncio.Queue] = set()
        self._end: object | None = (
            None  # the final Message (or CLOSED), for listeners who come late
        )
        self.completion: Completion | None = None  # what the model sent, also after a stop
        self.templates: list = []  # the saved templates offered to the model (proposals.Offer)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def append(self, delta: str) -> None:
        self.parts.append(delta)
        for queue in self._listeners:
            queue.put_nowait(delta)

    @contextlib.contextmanager
    def listen(self) -> Iterator[tuple[str, asyncio.Queue]]:
        """The text so far and a queue of what follows: deltas (str), then the final Message."""
        queue: asyncio.Queue = asyncio.Queue()
        if self._end is not None:
            queue.put_nowait(self._end)
        self._listeners.add(queue)
        try:
            yield self.text, queue
        finally:
            self._listeners.discard(queue)

    def publish_end(self, item: object) -> None:
        self._end = item
        for queue in self._listeners:
            queue.put_nowait(item)

    def request_stop(self) -> None:
        if not self.stop_requested and self.task is not None:
            self.stop_requested = True
            self.task.cancel()


FLUSH = f"""
WITH flushed AS (
    UPDATE messages SET content = %(content)s, updated_at = now()
    WHERE id = %(id)s AND status = 'streaming' RETURNING stop_requested
)
SELECT stop_requested, CASE WHEN %(announce)s THEN pg_notify('{CHANNEL}', %(event)s) END FROM flushed
"""
FINISH = f"""
WITH finished AS (
    UPDATE messages SET content = %(content)s, html = %(html)s, status = %(status)s, error = %(error)s,
                        model = coalesce(%(model)s, model), tokens_in = %(tokens_in)s,
                        tokens_out = %(tokens_out)s, proposal = %(proposal)s, updated_at = now()
    WHERE id = %(id)s AND status = 'streaming'
    RETURNING {COLUMNS}
)
SELECT {COLUMNS}, pg_notify('{CHANNEL}', %(event)s) AS notified FROM finished
"""


def _event(reply: LiveReply, kind: str) -> str:
    return json.dumps(
        {
            "user_id": reply.user_id,
            "kind": kind,
            "conversation_id": reply.conversation_id,
            "message_id": reply.message_id,
        }
    )


class Replies:
    """The replies this process is writing, by message id."""

    def __init__(self, pool: AsyncConnectionPool, hub: LiveHub, llm: LLM):
        self.pool = pool
        self.hub = hub
        self.llm = llm
        self._live: dict[int, LiveReply] = {}
        hub.on_closing(self._end_listeners)

    def get(self, message_id: int) -> LiveReply | None:
        return self._live.get(message_id)

    def start(
        self,
        user_id: int,
        conversation_id: int,
        message_id: int,
        history: list[dict] | None = None,
        space_id: int | None = None,
    ) -> LiveReply:
        """Write the reply in a task of this process. `history` is the conversation before it
        (`store.load_context`), if the caller has it at hand; otherwise it is read here."""
        reply = LiveReply(user_id, conversation_id, message_id, space_id)
        self._live[message_id] = reply
        reply.task = asyncio.create_task(self._write(reply, history), name=f"reply-{message_id}")
        return reply

    async def close(self) -> None:
        """At shutdown: stop every reply, keeping its text, marked as interrupted."""
        tasks = [r.task for r in self._live.values() if r.task]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def _end_listeners(self) -> None:
        for reply in self._live.values():
            reply.publish_end(CLOSED)

    async def _write(self, reply: LiveReply, history: list[dict] | None) -> None:
        status, error = "done", None
        helpers = [
            asyncio.create_task(self._watch_for_stop(reply)),
            asyncio.create_task(self._flush(reply)),
        ]
        try:
            if history is None:
                async with self.pool.connection() as conn:
                    history = await load_context(conn, reply.conversation_id, reply.message_id)
            messages = trim_to_budget(
                [{"role": "system", "content": SYSTEM_PROMPT}, *history], CONTEXT_BUDGET
            )
            await self._stream(reply, messages)
        except ModelError as exc:
            status, error = "error", exc.message
            log.warning(
                "chat.model_error", extra={"kind": exc.kind, "message_id": reply.message_id}
            )
        except asyncio.CancelledError:
            status, error = ("stopped", None) if reply.stop_requested else ("error", INTERRUPTED)
        except Exception:
            log.exception("chat.reply_failed", extra={"message_id": reply.message_id})
            status, error = "error", "Something went wrong while writing this reply."
        finally:
            for helper in helpers:
                helper.cancel()
        try:
            final = await self._finish(reply, status, error, reply.completion)
        finally:
            self._live.pop(reply.message_id, None)
        reply.publish_end(final)

    async def _stream(self, reply: LiveReply, messages: list[dict]) -> None:
        """The model's reply, token by token, into `reply`; it may propose a workflow (a tool
        call). An endpoint that refuses tools (some local models do) is asked again without them."""
        async with self.pool.connection() as conn:
            reply.templates = await proposable_templates(conn, reply.user_id, reply.space_id)
        tools = proposal_tools(reply.templates)
        while True:
            try:
                async with self.llm.stream(messages, tools=tools) as stream:
                    try:
                        async for delta in stream:
                            reply.append(delta)
                    finally:
                        reply.completion = stream.completion
                return
            except ModelError as exc:
                if not (tools and exc.kind == "bad_request" and not reply.parts):
                    raise
                log.info("chat.tools_refused", extra={"message_id": reply.message_id})
                tools = None

    async def _watch_for_stop(self, reply: LiveReply) -> None:
        async with self.hub.subscribe(reply.user_id) as events:
            async for event in events:
                if event.get("kind") == "chat.stop" and event.get("message_id") == reply.message_id:
                    reply.request_stop()
                    return

    async def _flush(self, reply: LiveReply) -> None:
        written, last_write = 0, time.monotonic()
        while True:
            await asyncio.sleep(FLUSH_S)
            text = reply.text
            changed = len(text) != written
            if not changed and time.monotonic() - last_write < HEARTBEAT_S:
                continue
            async with self.pool.connection() as conn:
                row = await (
                    await conn.execute(
                        FLUSH,
                        {
                            "id": reply.message_id,
                            "content": text,
                            "announce": changed,
                            "event": _event(reply, "chat.progress"),
                        },
                    )
                ).fetchone()
            written, last_write = len(text), time.monotonic()
            if row is None or row["stop_requested"]:  # stopped, or the conversation was deleted
                reply.request_stop()
                return

    async def _finish(
        self, reply: LiveReply, status: str, error: str | None, completion: Completion | None
    ) -> Message:
        text = reply.text
        params = {
            "id": reply.message_id,
            "content": text,
            "html": str(render_markdown(text)),
            "status": status,
            "error": error,
            "model": completion.model if completion else None,
            "tokens_in": completion.tokens_in if completion else None,
            "tokens_out": completion.tokens_out if completion else None,
            "event": _event(reply, "chat.finished"),
            "proposal": Jsonb(proposal)
            if (
                proposal := proposal_from(completion, reply.templates) if status == "done" else None
            )
            else None,
        }
        async with self.pool.connection() as conn:
            row = await (await conn.execute(FINISH, params)).fetchone()
        log.info(
            "chat.reply_finished",
            extra={"message_id": reply.message_id, "status": status, "chars": len(text)},
        )
        return (
            message_from(row)
            if row
            else Message(
                reply.message_id,
                reply.conversation_id,
                "assistant",
                text,
                params["html"],
                status,
                error,
                params["model"],
                None,
            )
        )


MARK_INTERRUPTED = f"""
WITH interrupted AS (
    UPDATE messages SET status = 'error', error = %(error)s, updated_at = now()
    WHERE id = %(id)s AND status = 'streaming' AND updated_at < now() - make_interval(secs => %(stale)s)
    RETURNING {COLUMNS}
)
SELECT i.*, pg_notify('{CHANNEL}', json_build_object(
    'user_id', c.user_id, 'kind', 'chat.finished', 'conversation_id', i.conversation_id,
    'message_id', i.id)::text) AS notified
FROM interrupted i JOIN conversations c ON c.id = i.conversation_id
"""


async def mark_interrupted(conn: AsyncConnection, message_id: int) -> Message | None:
    """A streaming reply whose process stopped writing (crash, kill) is closed as interrupted."""
    row = await (
        await conn.execute(
            MARK_INTERRUPTED, {"id": message_id, "error": INTERRUPTED, "stale": STALE_S}
        )
    ).fetchone()
    return message_from(row) if row else None
