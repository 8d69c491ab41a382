"""The shapes the tests of runs in spaces use (a team's id and slug, API-key headers), over
tests/support/teams.py, plus members added and removed, and runs started in a space."""

from __future__ import annotations

from tests.support import teams


async def make_team(pool, owner_id: int, *, tier: str = "enterprise") -> tuple[int, str]:
    """A new team owned by `owner_id`; returns its space id and slug."""
    team = await teams.make_team(pool, owner_id, tier=tier)
    return team["id"], team["slug"]


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
    await teams.work_in(pool, user_id, space_id)


async def space_key(pool, user_id: int, space_id: int) -> dict[str, str]:
    """Headers with a new API key of the user that acts in `space_id`."""
    return {"Authorization": f"Bearer {await teams.space_key(pool, user_id, space_id)}"}


async def start_in(pool, user_id: int, space_id: int | None, workflow: str, **input) -> dict:
    from app.engine.commands import start_run

    async with pool.connection() as conn:
        run, _ = await start_run(
            conn, owner_id=user_id, space_id=space_id, workflow=workflow, input=input
        )
    return run
