"""Finding the spaces a user may act in. Each comes back as a `Space` with the user's role, or None
when the user is not a member, which callers turn into "not found"."""

from __future__ import annotations

from psycopg import AsyncConnection

from app.core.policy import Space
from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
MEMBER_SPACE = SQL["member_space"]
PERSONAL_SPACE = SQL["personal_space"]
TEAM_BY_SLUG = SQL["team_by_slug"]
USER_SPACES = SQL["user_spaces"]
SET_CURRENT_SPACE = SQL["set_current_space"]


def space_of(row: dict) -> Space:
    return Space(row["id"], row["kind"], row["name"], row["slug"], row["role"], row["tier"])


def space_from(row: dict) -> Space:
    """The `space_*` columns a request's user is loaded with (session or API key) as its `Space`."""
    return Space(
        row["space_id"],
        row["space_kind"],
        row["space_name"],
        row["space_slug"],
        row["space_role"],
        row["space_tier"],
    )


async def member_space(conn: AsyncConnection, user_id: int, space_id: int) -> Space | None:
    if not 0 < space_id < 2**63:
        return None
    row = await (
        await conn.execute(MEMBER_SPACE, {"user_id": user_id, "space_id": space_id})
    ).fetchone()
    return space_of(row) if row else None


async def personal_space(conn: AsyncConnection, user_id: int) -> Space:
    row = await (await conn.execute(PERSONAL_SPACE, {"user_id": user_id})).fetchone()
    if row is None:
        raise LookupError(f"user {user_id} has no personal space")
    return space_of(row)


async def team_by_slug(conn: AsyncConnection, user_id: int, slug: str) -> Space | None:
    row = await (await conn.execute(TEAM_BY_SLUG, {"user_id": user_id, "slug": slug})).fetchone()
    return space_of(row) if row else None


async def user_spaces(conn: AsyncConnection, user_id: int) -> list[Space]:
    rows = await (await conn.execute(USER_SPACES, {"user_id": user_id})).fetchall()
    return [space_of(r) for r in rows]


async def set_current_space(
    conn: AsyncConnection, session_id: str, user_id: int, space_id: int
) -> bool:
    """Switch the session to `space_id`; False (nothing changed) unless the user is a member."""
    if not 0 < space_id < 2**63:
        return False
    params = {"session_id": session_id, "user_id": user_id, "space_id": space_id}
    return await (await conn.execute(SET_CURRENT_SPACE, params)).fetchone() is not None
