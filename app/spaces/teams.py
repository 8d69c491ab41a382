"""Team management: creating a team, its members and their roles, renaming it and its plan.

Every change writes the team's audit log (`app.core.audit.record`) in the same transaction. Member
changes of one team take turns on the team's row (`lock_team`), and the statements that demote or
remove an owner only do so while another owner remains, so a team always keeps an owner, however
many admins click at once. Who may ask for a change is the caller's question (`app.core.policy`:
MEMBERS for members, PLAN for the team itself); the one rule kept here is about owners: only an
owner gives or takes the owner role, or removes an owner.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

import psycopg
from psycopg import AsyncConnection

from app.core import audit
from app.core.config import TIERS
from app.core.policy import Forbidden, Space
from app.core.sql_queries import load_queries
from app.spaces.store import personal_space, space_of

SQL = load_queries(__file__)
USER_TIER = SQL["user_tier"]
INSERT_TEAM = SQL["insert_team"]
INSERT_MEMBER = SQL["insert_member"]
LOCK_TEAM = SQL["lock_team"]
MEMBER_ROLE = SQL["member_role"]
CHANGE_ROLE = SQL["change_role"]
REMOVE_MEMBER = SQL["remove_member"]
TEAM_MEMBERS = SQL["team_members"]
USER_BY_EMAIL = SQL["user_by_email"]
RENAME_TEAM = SQL["rename_team"]
SET_TEAM_TIER = SQL["set_team_tier"]
ALL_TEAMS = SQL["all_teams"]
TEAM_BY_SLUG_ANY = SQL["team_by_slug_any"]
TEAMS_FOR_ADMIN = SQL["teams_for_admin"]
TEAM_BY_ID_ANY = SQL["team_by_id_any"]
USAGE_BY_MEMBER = SQL["usage_by_member"]
ACTIVE_RUNS = SQL["active_runs"]
DELETE_TEAM = SQL["delete_team"]

ROLES = ("owner", "admin", "member", "viewer")
MAX_NAME = 100
MAX_SLUG = 40
SLUG_TRIES = 50


class TeamError(Exception):
    """A change that cannot be made, said in words a person can act on."""


class LastOwner(TeamError):
    """The change would leave the team without an owner."""


class NotMember(TeamError):
    """The person is not (or no longer) a member of the team."""


def valid_id(number: int) -> bool:
    return 0 < number < 2**63


def clean_name(name: str) -> str:
    if any(ord(c) < 32 and c not in "\t\n\r" for c in name or ""):
        raise TeamError("A team's name cannot contain control characters.")
    name = " ".join((name or "").split())
    if not name:
        raise TeamError("Give the team a name.")
    if len(name) > MAX_NAME:
        raise TeamError(f"A team's name is at most {MAX_NAME} characters.")
    return name


def slug_for(name: str) -> str:
    """A team's address from its name: lower-case letters, digits and dashes ("Data & ML" → data-ml)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:MAX_SLUG].strip("-")
    return slug or "team"


def _numbered(slug: str, n: int) -> str:
    suffix = f"-{n}"
    return slug[: MAX_SLUG - len(suffix)].rstrip("-") + suffix


async def create_team(
    conn: AsyncConnection, *, name: str, owner_id: int, tier: str | None = None
) -> Space:
    """A new team owned by `owner_id`, on `tier` (default: the owner's own tier). Its slug comes
    from the name, numbered when taken (acme, acme-2, …)."""
    name = clean_name(name)
    base = slug_for(name)
    async with conn.transaction():
        if tier is None:
            row = await (await conn.execute(USER_TIER, {"user_id": owner_id})).fetchone()
            if row is None:
                raise TeamError("There is no such user.")
            tier = row["tier"]
        team = None
        for n in range(1, SLUG_TRIES + 1):
            slug = base if n == 1 else _numbered(base, n)
            params = {"name": name, "slug": slug, "tier": tier, "user_id": owner_id}
            try:
                async with conn.transaction():  # a savepoint: a taken slug tries the next
                    team = await (await conn.execute(INSERT_TEAM, params)).fetchone()
                break
            except psycopg.errors.UniqueViolation:
                continue
            except psycopg.errors.ForeignKeyViolation:
                raise TeamError(f"There is no plan called {tier!r}.") from None
        if team is None:
            raise TeamError("Too many teams have this name; choose another.")
        await conn.execute(
            INSERT_MEMBER, {"space_id": team["id"], "user_id": owner_id, "role": "owner"}
        )
        await audit.record(
            conn,
            space_id=team["id"],
            actor_id=owner_id,
            action="team.change",
            object_kind="team",
            object_id=team["id"],
            detail={"change": "create", "name": name, "slug": team["slug"], "tier": tier},
        )
    return space_of(team)


async def members(conn: AsyncConnection, space_id: int) -> list[dict]:
    return await (await conn.execute(TEAM_MEMBERS, {"space_id": space_id})).fetchall()


async def user_by_email(conn: AsyncConnection, email: str) -> dict | None:
    return await (await conn.execute(USER_BY_EMAIL, {"email": email.strip()})).fetchone()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise TeamError(f"A role is one of {', '.join(ROLES)}.")


async def _lock(conn: AsyncConnection, space_id: int) -> None:
    if await (await conn.execute(LOCK_TEAM, {"space_id": space_id})).fetchone() is None:
        raise NotMember("There is no such team.")


async def add_member(
    conn: AsyncConnection,
    team: Space,
    user_id: int,
    role: str,
    *,
    actor_id: int | None,
    via: str = "direct",
) -> bool:
    """Add `user_id` with `role`; False when they are already a member (their role is kept).
    `team.role` is the actor's role: only an owner adds another owner."""
    _check_role(role)
    if role == "owner" and team.role != "owner":
        raise Forbidden("Only an owner can make someone an owner.")
    async with conn.transaction():
        params = {"space_id": team.id, "user_id": user_id, "role": role}
        if await (await conn.execute(INSERT_MEMBER, params)).fetchone() is None:
            return False
        await audit.record(
            conn,
            space_id=team.id,
            actor_id=actor_id,
            action="member.add",
            object_kind="member",
            object_id=user_id,
            detail={"role": role, "via": via},
        )
    return True


async def change_role(
    conn: AsyncConnection, team: Space, user_id: int, role: str, *, actor_id: int
) -> str:
    """Give a member another role; returns their previous role. Raises LastOwner when it would
    demote the only owner, NotMember when they are gone."""
    _check_role(role)
    if not valid_id(user_id):
        raise NotMember("This person is not a member of the team.")
    async with conn.transaction():
        await _lock(conn, team.id)
        row = await (
            await conn.execute(MEMBER_ROLE, {"space_id": team.id, "user_id": user_id})
        ).fetchone()
        if row is None:
            raise NotMember("This person is not a member of the team any more.")
        previous = row["role"]
        if "owner" in (previous, role) and team.role != "owner":
            raise Forbidden("Only an owner can give or take the owner role.")
        if previous == role:
            return previous
        params = {"space_id": team.id, "user_id": user_id, "role": role}
        if await (await conn.execute(CHANGE_ROLE, params)).fetchone() is None:
            raise LastOwner(
                "The team needs an owner: make someone else an owner before changing this role."
            )
        await audit.record(
            conn,
            space_id=team.id,
            actor_id=actor_id,
            action="member.role",
            object_kind="member",
            object_id=user_id,
            detail={"from": previous, "to": role},
        )
    return previous


async def remove_member(
    conn: AsyncConnection, team: Space, user_id: int, *, actor_id: int | None
) -> str:
    """Remove a member (or, with `actor_id == user_id`, leave); returns the role they had. Raises
    LastOwner for the only owner, NotMember when they are not a member."""
    if not valid_id(user_id):
        raise NotMember("This person is not a member of the team.")
    async with conn.transaction():
        await _lock(conn, team.id)
        row = await (
            await conn.execute(MEMBER_ROLE, {"space_id": team.id, "user_id": user_id})
        ).fetchone()
        if row is None:
            raise NotMember("This person is not a member of the team.")
        leaving = actor_id == user_id
        if row["role"] == "owner" and team.role != "owner" and not leaving:
            raise Forbidden("Only an owner can remove an owner.")
        removed = await (
            await conn.execute(REMOVE_MEMBER, {"space_id": team.id, "user_id": user_id})
        ).fetchone()
        if removed is None:
            raise LastOwner(
                "You are the team's only owner: make someone else an owner first."
                if leaving
                else "The team's only owner cannot be removed."
            )
        await audit.record(
            conn,
            space_id=team.id,
            actor_id=actor_id,
            action="member.remove",
            object_kind="member",
            object_id=user_id,
            detail={"role": removed["role"], "left": leaving},
        )
    return removed["role"]


async def rename_team(conn: AsyncConnection, team: Space, name: str, *, actor_id: int) -> str:
    name = clean_name(name)
    async with conn.transaction():
        await conn.execute(RENAME_TEAM, {"space_id": team.id, "name": name})
        await audit.record(
            conn,
            space_id=team.id,
            actor_id=actor_id,
            action="team.change",
            object_kind="team",
            object_id=team.id,
            detail={"change": "rename", "from": team.name, "to": name},
        )
    return name


async def set_team_tier(conn: AsyncConnection, team: Space, tier: str, *, actor_id: int) -> None:
    """Move the team to another plan (an instance admin's decision; the caller checks that)."""
    if tier not in TIERS:
        raise TeamError(f"A plan is one of {', '.join(TIERS)}.")
    async with conn.transaction():
        try:
            await conn.execute(SET_TEAM_TIER, {"space_id": team.id, "tier": tier})
        except psycopg.errors.ForeignKeyViolation:
            raise TeamError(f"There is no plan called {tier!r}.") from None
        await audit.record(
            conn,
            space_id=team.id,
            actor_id=actor_id,
            action="team.change",
            object_kind="team",
            object_id=team.id,
            detail={"change": "tier", "from": team.tier, "to": tier},
        )


async def delete_team(conn: AsyncConnection, team: Space, *, actor_id: int) -> None:
    """Delete the team and everything in it, unless runs are under way. The entry recording it goes
    to the actor's personal audit log (the team's own goes with the team)."""
    async with conn.transaction():
        await _lock(conn, team.id)
        active = (await (await conn.execute(ACTIVE_RUNS, {"space_id": team.id})).fetchone())["n"]
        if active:
            raise TeamError(
                f"{active} run(s) of the team are under way: cancel them or let them finish first."
            )
        personal = await personal_space(conn, actor_id)
        await conn.execute(DELETE_TEAM, {"space_id": team.id})
        await audit.record(
            conn,
            space_id=personal.id,
            actor_id=actor_id,
            action="team.change",
            object_kind="team",
            object_id=team.id,
            detail={"change": "delete", "name": team.name, "slug": team.slug},
        )


async def all_teams(conn: AsyncConnection) -> list[dict]:
    return await (await conn.execute(ALL_TEAMS)).fetchall()


async def team_by_slug_any(conn: AsyncConnection, slug: str) -> Space | None:
    """A team by slug, seen as its operator (the CLI): role "owner"."""
    row = await (await conn.execute(TEAM_BY_SLUG_ANY, {"slug": slug})).fetchone()
    return space_of(row) if row else None


async def teams_for_admin(
    conn: AsyncConnection,
    q: str = "",
    page: int = 1,
    *,
    team_id: int | None = None,
    per_page: int = 50,
) -> tuple[list[dict], bool]:
    """One page of the instance's teams matching `q` (name or slug), or the team `team_id`, with
    their members and runs this month, and whether another page follows."""
    params = {"q": q, "id": team_id, "limit": per_page + 1, "offset": (page - 1) * per_page}
    rows = await (await conn.execute(TEAMS_FOR_ADMIN, params)).fetchall()
    return rows[:per_page], len(rows) > per_page


async def team_by_id_any(conn: AsyncConnection, team_id: int) -> Space | None:
    """A team by id, seen as the instance's operator (the admin pages): role "owner"."""
    if not valid_id(team_id):
        return None
    row = await (await conn.execute(TEAM_BY_ID_ANY, {"id": team_id})).fetchone()
    return space_of(row) if row else None


async def usage_by_member(conn: AsyncConnection, space_id: int) -> list[dict]:
    rows = await (await conn.execute(USAGE_BY_MEMBER, {"space_id": space_id})).fetchall()
    for row in rows:
        row["cost_usd"] = Decimal(row["cost_usd"])
    return rows
