"""Server-side sessions: the cookie holds a random token, the `sessions` table its SHA-256.
Deleting a row signs that browser out, wherever it is; disabling a user deletes all of theirs."""

from __future__ import annotations

import hashlib
import secrets

from psycopg import AsyncConnection

from app.spaces.store import space_from
from app.web.auth.user import CurrentUser, SessionInfo

COOKIE = "baton_session"
LIFETIME_DAYS = 30
# last_seen_at is refreshed at most this often, so reading pages does not write on every request.
TOUCH_AFTER = "10 minutes"


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


CREATE = """
INSERT INTO sessions (id, user_id, expires_at, user_agent, ip)
VALUES (%(id)s, %(user_id)s, now() + make_interval(days => %(days)s), %(user_agent)s, %(ip)s)
"""
# Expired rows of this user are swept here: a cheap moment that comes regularly.
SWEEP = "DELETE FROM sessions WHERE user_id = %(user_id)s AND expires_at < now()"


async def create_session(
    conn: AsyncConnection, user_id: int, *, user_agent: str = "", ip: str = ""
) -> str:
    """Start a session; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    async with conn.transaction():
        await conn.execute(SWEEP, {"user_id": user_id})
        await conn.execute(
            CREATE,
            {
                "id": session_id(token),
                "user_id": user_id,
                "days": LIFETIME_DAYS,
                "user_agent": user_agent[:300],
                "ip": ip[:64],
            },
        )
    return token


# The session's current space comes with the user, in the same query: the chosen one while the user
# is still a member of it, else their personal space (a removed member is moved back, silently).
LOAD = f"""
SELECT u.id, u.email, u.tier, u.is_admin, u.time_zone, u.theme,
       s.last_seen_at < now() - interval '{TOUCH_AFTER}' AS stale,
       sp.id AS space_id, sp.kind AS space_kind, sp.name AS space_name, sp.slug AS space_slug,
       m.role AS space_role, coalesce(sp.tier, u.tier) AS space_tier
FROM sessions s JOIN users u ON u.id = s.user_id
JOIN LATERAL (
    SELECT m.space_id, m.role FROM space_members m JOIN spaces x ON x.id = m.space_id
    WHERE m.user_id = u.id AND (m.space_id = s.space_id OR x.personal_of = u.id)
    ORDER BY x.personal_of IS NULL DESC LIMIT 1
) m ON true
JOIN spaces sp ON sp.id = m.space_id
WHERE s.id = %(id)s AND s.expires_at > now() AND u.disabled_at IS NULL
"""
TOUCH = """
UPDATE sessions SET last_seen_at = now(), expires_at = now() + make_interval(days => %(days)s)
WHERE id = %(id)s
"""


async def load_session(conn: AsyncConnection, token: str) -> tuple[CurrentUser, SessionInfo] | None:
    sid = session_id(token)
    row = await (await conn.execute(LOAD, {"id": sid})).fetchone()
    if row is None:
        return None
    if row["stale"]:
        await conn.execute(TOUCH, {"id": sid, "days": LIFETIME_DAYS})
    return (
        CurrentUser(
            row["id"],
            row["email"],
            row["tier"],
            row["is_admin"],
            row["time_zone"],
            row["theme"],
            space_from(row),
        ),
        SessionInfo(sid),
    )


async def end_session(conn: AsyncConnection, sid: str) -> None:
    await conn.execute("DELETE FROM sessions WHERE id = %(id)s", {"id": sid})


async def end_all_sessions(conn: AsyncConnection, user_id: int) -> int:
    cur = await conn.execute(
        "DELETE FROM sessions WHERE user_id = %(user_id)s", {"user_id": user_id}
    )
    return cur.rowcount


LIST = """
SELECT id, created_at, last_seen_at, user_agent, ip FROM sessions
WHERE user_id = %(user_id)s AND expires_at > now() ORDER BY last_seen_at DESC LIMIT 50
"""


async def list_sessions(conn: AsyncConnection, user_id: int) -> list[dict]:
    return await (await conn.execute(LIST, {"user_id": user_id})).fetchall()
