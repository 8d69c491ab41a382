"""Teams made directly in the database for the tests of runs in spaces (no invitation flow): a team
with members and roles, a browser session switched into it, an API key of it."""

from __future__ import annotations

import secrets

from app.web.auth import api_keys as keys


async def make_team(pool, owner_id: int, *, tier: str = "enterprise") -> tuple[int, str]:
    """A new team owned by `owner_id`; returns its space id and slug."""
    slug = f"team-{secrets.token_hex(5)}"
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "INSERT INTO spaces (kind, name, slug, tier, created_by)"
                " VALUES ('team', %s, %s, %s, %s) RETURNING id",
                (f"Team {slug[-4:]}", slug, tier, owner_id),
            )
        ).fetchone()
        await conn.execute(
            "INSERT INTO space_members (space_id, user_id, role) VALUES (%s, %s, 'owner')",
            (row["id"], owner_id),
        )
    return row["id"], slug


async def add_member(pool, space_id: int, user_id: int, role: str = "member") -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO space_members (space_id, user_id, role) VALUES (%s, %s, %s)"
            " ON CONFLICT (space_id, user_id) DO UPDATE SET role = EXCLUDED.role",
            (space_id, user_id, role),
        )


async def remove_member(pool, space_id: int, user_id: int) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "DELETE FROM space_members WHERE space_id = %s AND user_id = %s", (space_id, user_id)
        )


async def use_space(pool, user_id: int, space_id: int) -> None:
    """Switch the user's sessions to the space, as the header's switcher does."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE sessions SET space_id = %s WHERE user_id = %s", (space_id, user_id)
        )


async def space_key(pool, user_id: int, space_id: int) -> dict[str, str]:
    """Headers with a new API key of the user that acts in `space_id`."""
    async with pool.connection() as conn:
        key, row = await keys.create_key(conn, user_id, "team tests")
        await conn.execute("UPDATE api_keys SET space_id = %s WHERE id = %s", (space_id, row["id"]))
    return {"Authorization": f"Bearer {key}"}


async def start_in(pool, user_id: int, space_id: int | None, workflow: str, **input) -> dict:
    from app.engine.commands import start_run

    async with pool.connection() as conn:
        run, _ = await start_run(
            conn, owner_id=user_id, space_id=space_id, workflow=workflow, input=input
        )
    return run
