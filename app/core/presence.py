"""Who is looking at what right now: one row per open live page (/live SSE stream), in Postgres so
that every web process and worker sees every other process's streams.

The web side (app/web/live/presence.py) enters a row when a stream opens, touches its rows every
TOUCH_S and deletes a row when its stream ends. A process that dies leaves rows behind; they stop
counting EXPIRE_S after their last touch and are deleted by the next process that registers a page.
The mail side asks `looking_at(conn, user_id, pages)` before sending a notice.
"""

from __future__ import annotations

from uuid import UUID

from psycopg import AsyncConnection

TOUCH_S = 10.0
EXPIRE_S = 35.0  # three missed touches
MAX_PAGE = 200

ENTER = "INSERT INTO presence (stream_id, user_id, page) VALUES (%(id)s, %(user_id)s, %(page)s)"
TOUCH = "UPDATE presence SET seen_at = now() WHERE stream_id = ANY(%(ids)s)"
LEAVE = "DELETE FROM presence WHERE stream_id = %(id)s"
FORGET_EXPIRED = "DELETE FROM presence WHERE seen_at < now() - make_interval(secs => %(after)s)"
LOOKING_AT = """
SELECT EXISTS (
    SELECT 1 FROM presence
    WHERE user_id = %(user_id)s AND page = ANY(%(pages)s) AND seen_at > now() - make_interval(secs => %(expire)s)
) AS present
"""


def page_of(path: str) -> str:
    """The page a stream shows, normalised: no query, no fragment, no trailing slash."""
    path = path.split("#", 1)[0].split("?", 1)[0].rstrip("/") or "/"
    return path[:MAX_PAGE] if path.startswith("/") else "/"


def pages_showing(run: dict, hook_id: int | None = None) -> list[str]:
    """Every page on which this run (and its hook) is on screen: its chat, its run page, the
    hook's approval page."""
    pages = [f"/workflows/{run['id']}"]
    if run.get("chat_id"):
        pages.append(f"/chat/{run['chat_id']}")
    if hook_id is not None:
        pages.append(f"/approvals/{hook_id}")
    return pages


async def enter(conn: AsyncConnection, stream_id: UUID, user_id: int, page: str) -> None:
    await conn.execute(FORGET_EXPIRED, {"after": EXPIRE_S * 4})
    await conn.execute(ENTER, {"id": stream_id, "user_id": user_id, "page": page_of(page)})


async def touch(conn: AsyncConnection, stream_ids: list[UUID]) -> None:
    if stream_ids:
        await conn.execute(TOUCH, {"ids": stream_ids})


async def leave(conn: AsyncConnection, stream_id: UUID) -> None:
    await conn.execute(LEAVE, {"id": stream_id})


async def looking_at(conn: AsyncConnection, user_id: int, pages: list[str]) -> bool:
    row = await (
        await conn.execute(LOOKING_AT, {"user_id": user_id, "pages": pages, "expire": EXPIRE_S})
    ).fetchone()
    return row["present"]
