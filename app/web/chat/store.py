"""Conversations and messages: the SQL the chat pages need. Every query that takes a conversation
id also takes the user id, so a conversation that is not yours is simply not found."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from app.core import ratelimit
from app.core.llm import OFFLINE_LABEL, OFFLINE_MODEL_NAME
from app.core.markdown import render_markdown
from app.core.titles import TITLE_MAX, title_from  # noqa: F401 (TITLE_MAX: part of the chat's store API)
from app.web import errors
from app.web.live import CHANNEL

SIDEBAR_PAGE = 50
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    updated_at: datetime


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    role: str
    content: str
    html: str | None
    status: str
    error: str | None
    model: str | None
    updated_at: datetime
    proposal: dict | None = (
        None  # a workflow the model offered to start (app/web/chat/proposals.py)
    )

    @property
    def body_html(self) -> Markup:
        return Markup(self.html) if self.html is not None else render_markdown(self.content)

    @property
    def model_label(self) -> str:
        return OFFLINE_LABEL if self.model == OFFLINE_MODEL_NAME else (self.model or "")


def message_from(row: dict) -> Message:
    """A Message from a dict row that may carry extra columns."""
    return Message(**{name: row[name] for name in Message.__dataclass_fields__})


class ChatError(Exception):
    """A refused chat action, with a message to show the user."""

    status_code = 422

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ReplyInProgress(ChatError):
    status_code = 409


class RateLimited(ChatError):
    status_code = 429

    def __init__(self, message: str, wait: float):
        super().__init__(message)
        self.wait = wait


class NotFound(errors.NotFound):
    """Not one of the user's conversations or messages (a 404 page when not caught)."""


# -- reading -----------------------------------------------------------------------------------

COLUMNS = "id, conversation_id, role, content, html, status, error, model, updated_at, proposal"

FIRST_PAGE = """
SELECT id, title, updated_at FROM conversations WHERE user_id = %(user_id)s
ORDER BY updated_at DESC, id DESC LIMIT %(limit)s
"""
NEXT_PAGE = """
SELECT id, title, updated_at FROM conversations
WHERE user_id = %(user_id)s AND (updated_at, id) < (%(before_at)s, %(before_id)s)
ORDER BY updated_at DESC, id DESC LIMIT %(limit)s
"""


async def list_conversations(
    conn: AsyncConnection, user_id: int, *, before: tuple[datetime, int] | None = None
) -> list[Conversation]:
    """One sidebar page, newest activity first (one more than a page: the caller sees if more exist)."""
    params = {"user_id": user_id, "limit": SIDEBAR_PAGE + 1}
    query = FIRST_PAGE
    if before:
        query = NEXT_PAGE
        params.update(before_at=before[0], before_id=before[1])
    async with conn.cursor(row_factory=class_row(Conversation)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def get_conversation(
    conn: AsyncConnection, user_id: int, conversation_id: int
) -> Conversation:
    async with conn.cursor(row_factory=class_row(Conversation)) as cur:
        await cur.execute(
            "SELECT id, title, updated_at FROM conversations WHERE id = %(id)s AND user_id = %(user_id)s",
            {"id": conversation_id, "user_id": user_id},
        )
        found = await cur.fetchone()
    if found is None:
        raise NotFound
    return found


HISTORY = f"""
SELECT * FROM (
    SELECT {COLUMNS} FROM messages WHERE conversation_id = %(id)s ORDER BY id DESC LIMIT %(limit)s
) latest ORDER BY id
"""


async def list_messages(conn: AsyncConnection, conversation_id: int) -> list[Message]:
    async with conn.cursor(row_factory=class_row(Message)) as cur:
        await cur.execute(HISTORY, {"id": conversation_id, "limit": HISTORY_LIMIT})
        return await cur.fetchall()


GET_MESSAGE = f"""
SELECT {COLUMNS} FROM messages
WHERE id = %(id)s AND conversation_id = %(cid)s
  AND conversation_id IN (SELECT id FROM conversations WHERE user_id = %(user_id)s)
"""


async def get_message(
    conn: AsyncConnection, user_id: int, conversation_id: int, message_id: int
) -> Message:
    async with conn.cursor(row_factory=class_row(Message)) as cur:
        await cur.execute(
            GET_MESSAGE, {"id": message_id, "cid": conversation_id, "user_id": user_id}
        )
        found = await cur.fetchone()
    if found is None:
        raise NotFound
    return found


# -- writing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    conversation: Conversation
    sent: Message
    reply: Message
    moved_up: bool  # the conversation was not the most recent one: the sidebar order changed


NEW_CONVERSATION = """
INSERT INTO conversations (user_id, title) VALUES (%(user_id)s, %(title)s)
RETURNING id, title, updated_at, true AS moved_up
"""
# Locks the conversation row, so sends and regenerations in one conversation happen one at a
# time; `moved_up` compares with the most recent conversation as it was before this update.
TOUCH_CONVERSATION = """
WITH most_recent AS (
    SELECT id FROM conversations WHERE user_id = %(user_id)s ORDER BY updated_at DESC, id DESC LIMIT 1
)
UPDATE conversations SET updated_at = now() WHERE id = %(id)s AND user_id = %(user_id)s
RETURNING id, title, updated_at, id <> (SELECT id FROM most_recent) AS moved_up
"""
# Whether a reply is still being written (asked under the conversation's row lock).
REPLY_STREAMING = """
SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = %(id)s AND status = 'streaming') AS busy
"""
INSERT_EXCHANGE = f"""
INSERT INTO messages (conversation_id, role, content, status, model)
VALUES (%(id)s, 'user', %(content)s, 'done', NULL), (%(id)s, 'assistant', '', 'streaming', %(model)s)
RETURNING {COLUMNS}
"""
INSERT_REPLY = f"""
INSERT INTO messages (conversation_id, role, status, model) VALUES (%(id)s, 'assistant', 'streaming', %(model)s)
RETURNING {COLUMNS}
"""


async def _check_and_take_slot(
    conn: AsyncConnection, conversation_id: int, user_id: int, tier: str
) -> None:
    """A busy conversation is refused before a slot is counted; the slot, under the per-tier
    messages-a-minute limit, is counted in the caller's transaction (rolled back with it)."""
    if (await (await conn.execute(REPLY_STREAMING, {"id": conversation_id})).fetchone())["busy"]:
        raise ReplyInProgress("Wait for the reply to finish, or press Stop.")
    wait, per_minute = await ratelimit.take_tier_slot(conn, ratelimit.CHAT_MESSAGES, user_id, tier)
    if wait:
        raise RateLimited(
            f"You have reached your plan's limit of {per_minute} messages a minute. "
            f"Try again in {ratelimit.describe_wait(wait)}.",
            wait,
        )


async def start_exchange(
    conn: AsyncConnection,
    *,
    user_id: int,
    tier: str,
    conversation_id: int | None,
    content: str,
    model: str,
) -> Exchange:
    """Store the user's message and an empty streaming reply, under the rate limit, atomically:
    either both rows exist and a slot was counted, or nothing changed."""
    async with conn.transaction():
        if conversation_id is None:
            cur = await conn.execute(
                NEW_CONVERSATION, {"user_id": user_id, "title": title_from(content)}
            )
        else:
            cur = await conn.execute(
                TOUCH_CONVERSATION, {"id": conversation_id, "user_id": user_id}
            )
        row = await cur.fetchone()
        if row is None:
            raise NotFound
        await _check_and_take_slot(conn, row["id"], user_id, tier)
        cur = await conn.execute(
            INSERT_EXCHANGE, {"id": row["id"], "content": content, "model": model}
        )
        sent, reply = sorted((message_from(r) for r in await cur.fetchall()), key=lambda m: m.id)
    conversation = Conversation(row["id"], row["title"], row["updated_at"])
    return Exchange(conversation, sent, reply, row["moved_up"])


CONTEXT = """
SELECT role, content FROM messages
WHERE conversation_id = %(id)s AND id < %(before)s AND content <> '' AND status <> 'streaming'
ORDER BY id DESC LIMIT 500
"""


async def load_context(conn: AsyncConnection, conversation_id: int, before_id: int) -> list[dict]:
    """The conversation before a reply, oldest first, in the model's message format (the newest
    500 at most; the model call trims further to its token budget)."""
    rows = await (
        await conn.execute(CONTEXT, {"id": conversation_id, "before": before_id})
    ).fetchall()
    return [{"role": r["role"], "content": r["content"]} for r in reversed(rows)]


LAST_MESSAGE = (
    "SELECT id, role, status FROM messages WHERE conversation_id = %(id)s ORDER BY id DESC LIMIT 1"
)


async def restart_reply(
    conn: AsyncConnection,
    *,
    user_id: int,
    tier: str,
    conversation_id: int,
    message_id: int,
    model: str,
) -> Message:
    """Regenerate / Retry: replace the conversation's last reply with a new streaming one."""
    async with conn.transaction():
        if (
            await (
                await conn.execute(TOUCH_CONVERSATION, {"id": conversation_id, "user_id": user_id})
            ).fetchone()
        ) is None:
            raise NotFound
        last = await (await conn.execute(LAST_MESSAGE, {"id": conversation_id})).fetchone()
        if last is None or last["id"] != message_id or last["role"] != "assistant":
            raise ReplyInProgress("Only the latest reply can be regenerated; reload the page.")
        await _check_and_take_slot(conn, conversation_id, user_id, tier)
        await conn.execute("DELETE FROM messages WHERE id = %(id)s", {"id": message_id})
        return message_from(
            await (
                await conn.execute(INSERT_REPLY, {"id": conversation_id, "model": model})
            ).fetchone()
        )


REQUEST_STOP = f"""
WITH stopped AS (
    UPDATE messages SET stop_requested = true
    WHERE id = %(id)s AND conversation_id = %(cid)s AND status = 'streaming'
      AND conversation_id IN (SELECT id FROM conversations WHERE user_id = %(user_id)s)
    RETURNING id
)
SELECT pg_notify('{CHANNEL}', %(event)s) FROM stopped
"""


async def request_stop(
    conn: AsyncConnection, user_id: int, conversation_id: int, message_id: int
) -> None:
    """Flag the reply and announce it: whichever process is generating it stops (via the live
    hub at once, or at its next flush if it missed the event)."""
    event = json.dumps(
        {
            "user_id": user_id,
            "kind": "chat.stop",
            "conversation_id": conversation_id,
            "message_id": message_id,
        }
    )
    cur = await conn.execute(
        REQUEST_STOP, {"id": message_id, "cid": conversation_id, "user_id": user_id, "event": event}
    )
    if cur.rowcount == 0:
        await get_message(conn, user_id, conversation_id, message_id)  # NotFound if not yours
        # Otherwise it already finished: nothing to stop.


RENAME = "UPDATE conversations SET title = %(title)s WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id, title, updated_at"


async def rename(
    conn: AsyncConnection, user_id: int, conversation_id: int, title: str
) -> Conversation:
    async with conn.cursor(row_factory=class_row(Conversation)) as cur:
        await cur.execute(RENAME, {"id": conversation_id, "user_id": user_id, "title": title})
        found = await cur.fetchone()
    if found is None:
        raise NotFound
    return found


async def delete(conn: AsyncConnection, user_id: int, conversation_id: int) -> None:
    cur = await conn.execute(
        "DELETE FROM conversations WHERE id = %(id)s AND user_id = %(user_id)s",
        {"id": conversation_id, "user_id": user_id},
    )
    if cur.rowcount == 0:
        raise NotFound


# -- the model's proposals (app/web/chat/proposals.py) --------------------------------------------

# Locks the reply's row: of two clicks on Start (or Start and Dismiss), the second sees the first's answer.
LOCK_PROPOSAL = f"""
SELECT {", ".join("m." + c for c in COLUMNS.split(", "))} FROM messages m
JOIN conversations c ON c.id = m.conversation_id
WHERE m.id = %(id)s AND c.user_id = %(user_id)s AND m.proposal IS NOT NULL FOR UPDATE OF m
"""
SET_PROPOSAL = f"UPDATE messages SET proposal = %(proposal)s WHERE id = %(id)s RETURNING {COLUMNS}"


async def lock_proposal(conn: AsyncConnection, message_id: int, user_id: int) -> Message:
    """The user's reply carrying a proposal, locked until the transaction ends; NotFound otherwise."""
    row = await (
        await conn.execute(LOCK_PROPOSAL, {"id": message_id, "user_id": user_id})
    ).fetchone()
    if row is None:
        raise NotFound
    return message_from(row)


async def set_proposal(conn: AsyncConnection, message_id: int, proposal: dict) -> Message:
    row = await (
        await conn.execute(SET_PROPOSAL, {"id": message_id, "proposal": Jsonb(proposal)})
    ).fetchone()
    return message_from(row)
