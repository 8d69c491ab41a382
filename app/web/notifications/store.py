"""The bell's SQL: a user's notifications, unread first in count, newest first in lists.
Written by app/workflows/notices.py (engine signals); read and marked read here."""

from __future__ import annotations

from psycopg import AsyncConnection

MENU_LIMIT = 8
PAGE_LIMIT = 100

RECENT = """
SELECT id, kind, title, url, read_at, created_at FROM notifications
WHERE user_id = %(user_id)s ORDER BY id DESC LIMIT %(limit)s
"""
UNREAD_COUNT = (
    "SELECT count(*) AS n FROM notifications WHERE user_id = %(user_id)s AND read_at IS NULL"
)
# Marks one read and returns where it points; the announcement refreshes the user's other tabs.
OPEN = """
WITH upd AS (
    UPDATE notifications SET read_at = coalesce(read_at, now())
    WHERE id = %(id)s AND user_id = %(user_id)s RETURNING url
)
SELECT url, pg_notify('baton_events', json_build_object('kind', 'notification.read', 'user_id', %(user_id)s::bigint)::text)
FROM upd
"""
READ_ALL = """
WITH upd AS (
    UPDATE notifications SET read_at = now() WHERE user_id = %(user_id)s AND read_at IS NULL RETURNING id
)
SELECT count(*) AS n, pg_notify('baton_events', json_build_object('kind', 'notification.read', 'user_id', %(user_id)s::bigint)::text)
FROM upd
"""


async def recent(conn: AsyncConnection, user_id: int, limit: int = MENU_LIMIT) -> list[dict]:
    return await (await conn.execute(RECENT, {"user_id": user_id, "limit": limit})).fetchall()


async def unread_count(conn: AsyncConnection, user_id: int) -> int:
    return (await (await conn.execute(UNREAD_COUNT, {"user_id": user_id})).fetchone())["n"]


async def open_one(conn: AsyncConnection, notification_id: int, user_id: int) -> str | None:
    """Mark it read; returns its URL, or None if it is not this user's."""
    row = await (await conn.execute(OPEN, {"id": notification_id, "user_id": user_id})).fetchone()
    return row["url"] if row else None


async def read_all(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(READ_ALL, {"user_id": user_id})
