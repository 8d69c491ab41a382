"""A team made directly in the database, for tests of what teams do (not of how they are made)."""

from __future__ import annotations

import secrets


async def make_team(pool, members: dict[int, str], *, name: str = "Acme") -> dict:
    """A team space with these members (user id → role); returns {"id", "slug", "name"}."""
    slug = f"team-{secrets.token_hex(4)}"
    async with pool.connection() as conn:
        space = await (
            await conn.execute(
                "INSERT INTO spaces (kind, name, slug, tier, created_by) "
                "VALUES ('team', %s, %s, 'enterprise', %s) RETURNING id, slug, name",
                (name, slug, next(iter(members))),
            )
        ).fetchone()
        for user_id, role in members.items():
            await conn.execute(
                "INSERT INTO space_members (space_id, user_id, role) VALUES (%s, %s, %s)",
                (space["id"], user_id, role),
            )
    return space
