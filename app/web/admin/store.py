"""SQL for the admin pages: the user list and the tiers' limits."""

from __future__ import annotations

from psycopg import AsyncConnection

PAGE = 50

# A substring match via position(): no LIKE pattern, so `%` or `_` typed in the search are literal.
USERS = """
SELECT id, email, tier, is_admin, disabled_at, created_at FROM users
WHERE %(q)s = '' OR position(lower(%(q)s) IN email) > 0
ORDER BY id LIMIT %(limit)s OFFSET %(offset)s
"""


async def find_users(conn: AsyncConnection, q: str, page: int) -> tuple[list[dict], bool]:
    """One page of users whose email contains `q`, and whether another page follows."""
    rows = await (
        await conn.execute(USERS, {"q": q, "limit": PAGE + 1, "offset": (page - 1) * PAGE})
    ).fetchall()
    return rows[:PAGE], len(rows) > PAGE


USER = "SELECT id, email, tier, is_admin, disabled_at, created_at FROM users WHERE id = %(id)s"


async def get_user(conn: AsyncConnection, user_id: int) -> dict | None:
    return await (await conn.execute(USER, {"id": user_id})).fetchone()


async def list_tiers(conn: AsyncConnection) -> list[dict]:
    return await (await conn.execute("SELECT * FROM tiers ORDER BY position")).fetchall()


UPDATE_TIER = """
UPDATE tiers SET title = %(title)s, monthly_runs = %(monthly_runs)s, chat_per_minute = %(chat_per_minute)s,
                 api_per_minute = %(api_per_minute)s
WHERE name = %(name)s RETURNING *
"""


async def update_tier(conn: AsyncConnection, name: str, limits: dict) -> dict | None:
    return await (await conn.execute(UPDATE_TIER, {"name": name, **limits})).fetchone()
