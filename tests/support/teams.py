"""Teams for tests, made directly in the database (the teams pages are tested on their own): a
team with members at roles, a browser session working in a space, an API key of a space."""

from __future__ import annotations

import secrets

from tests.support.web import log_in, make_user


async def make_team(
    pool,
    owner_id: int,
    members: dict[int, str] | None = None,
    *,
    tier: str = "enterprise",
    name: str | None = None,
) -> dict:
    """A team created by `owner_id` (its owner, unless `members` gives them another role) with
    `members` ({user id: role}) on the plan `tier`; returns its row."""
    slug = f"t-{secrets.token_hex(5)}"
    async with pool.connection() as conn, conn.transaction():
        team = await (
            await conn.execute(
                "INSERT INTO spaces (kind, name, slug, tier, created_by) "
                "VALUES ('team', %s, %s, %s, %s) RETURNING *",
                (name or f"Team {slug}", slug, tier, owner_id),
            )
        ).fetchone()
        for user_id, role in {owner_id: "owner", **(members or {})}.items():
            await conn.execute(
                "INSERT INTO space_members (space_id, user_id, role) VALUES (%s, %s, %s)",
                (team["id"], user_id, role),
            )
    return team


async def personal_space_id(pool, user_id: int) -> int:
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT id FROM spaces WHERE personal_of = %s", (user_id,))
        ).fetchone()
    return row["id"]


async def work_in(pool, user_id: int, space_id: int | None) -> None:
    """Every browser session of the user works in `space_id` (None: personal), as the switcher does."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE sessions SET space_id = %s WHERE user_id = %s", (space_id, user_id)
        )


async def signed_in_user(pool, client, tier: str = "enterprise"):
    """A new account, signed in on `client` (its cookies replaced)."""
    user = await make_user(pool, tier=tier)
    response = await log_in(client, user.email)
    assert response.status_code == 303, response.text
    return user


async def space_key(pool, user_id: int, space_id: int) -> str:
    """An API key of `user_id` acting in `space_id`."""
    from app.web.auth.api_keys import create_key

    async with pool.connection() as conn:
        key, row = await create_key(conn, user_id, "test")
        await conn.execute("UPDATE api_keys SET space_id = %s WHERE id = %s", (space_id, row["id"]))
    return key


async def make_team_of(pool, members: dict[int, str], *, name: str = "Acme") -> dict:
    """A team with exactly these members (user id → role; the first is its creator)."""
    creator = next(iter(members))
    return await make_team(pool, creator, members, name=name)
