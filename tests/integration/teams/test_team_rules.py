"""Team management against the real database: a team's slug, its owner and plan, member changes
written to the audit log, and the rule that a team always keeps an owner, even when two owners are
removed (or leave) at the same moment."""

from __future__ import annotations

import asyncio

import pytest

from app.core.policy import Forbidden
from app.spaces import teams
from app.spaces.store import team_by_slug
from tests.support.engine import make_user


async def audit_actions(pool, space_id) -> list[tuple[str, str]]:
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT action, object_id FROM audit_log WHERE space_id = %s ORDER BY id",
                (space_id,),
            )
        ).fetchall()
    return [(r["action"], r["object_id"]) for r in rows]


async def role_of(pool, space_id, user_id) -> str | None:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT role FROM space_members WHERE space_id = %s AND user_id = %s",
                (space_id, user_id),
            )
        ).fetchone()
    return row["role"] if row else None


async def new_team(pool, owner, name="Data & ML", tier=None):
    async with pool.connection() as conn:
        return await teams.create_team(conn, name=name, owner_id=owner, tier=tier)


def test_slugs_come_from_names():
    assert teams.slug_for("Data & ML") == "data-ml"
    assert teams.slug_for("  Équipe Zürich ") == "equipe-zurich"
    assert teams.slug_for("!!!") == "team"
    assert len(teams.slug_for("x" * 300)) == 40


async def test_a_new_team_is_owned_by_its_creator_on_their_tier_and_its_slug_is_unique(pool):
    owner = await make_user(pool, "pro")
    first = await new_team(pool, owner, "Slug Test Team")
    second = await new_team(pool, owner, "Slug Test Team")
    assert first.slug != second.slug and second.slug.startswith(first.slug)
    assert (first.role, first.tier, first.kind) == ("owner", "pro", "team")
    assert await role_of(pool, first.id, owner) == "owner"
    chosen = await new_team(pool, owner, "Enterprise team", tier="enterprise")
    assert chosen.tier == "enterprise"
    assert await audit_actions(pool, first.id) == [("team.change", str(first.id))]
    with pytest.raises(teams.TeamError):
        await new_team(pool, owner, "   ")
    with pytest.raises(teams.TeamError):
        await new_team(pool, owner, "No such plan", tier="platinum")


async def test_member_changes_are_audited_and_the_last_owner_stays(pool):
    owner, colleague = await make_user(pool), await make_user(pool)
    team = await new_team(pool, owner)
    async with pool.connection() as conn:
        assert await teams.add_member(conn, team, colleague, "member", actor_id=owner)
        assert not await teams.add_member(conn, team, colleague, "viewer", actor_id=owner)
        assert await teams.change_role(conn, team, colleague, "admin", actor_id=owner) == "member"
        with pytest.raises(teams.LastOwner):
            await teams.change_role(conn, team, owner, "admin", actor_id=owner)
        with pytest.raises(teams.LastOwner):
            await teams.remove_member(conn, team, owner, actor_id=owner)  # leaving
        with pytest.raises(teams.LastOwner):
            await teams.remove_member(conn, team, owner, actor_id=colleague)
        # An admin may neither make an owner nor remove one; an owner may.
        as_admin = await team_by_slug(conn, colleague, team.slug)
        with pytest.raises(Forbidden):
            await teams.change_role(conn, as_admin, colleague, "owner", actor_id=colleague)
        await teams.change_role(conn, team, colleague, "owner", actor_id=owner)
        await teams.change_role(conn, team, owner, "member", actor_id=owner)  # another owner left
        assert await teams.remove_member(conn, team, owner, actor_id=owner) == "member"
        with pytest.raises(teams.NotMember):
            await teams.remove_member(conn, team, owner, actor_id=colleague)
    assert await role_of(pool, team.id, colleague) == "owner"
    assert [a for a, _ in await audit_actions(pool, team.id)] == [
        "team.change",
        "member.add",
        "member.role",
        "member.role",
        "member.role",
        "member.remove",
    ]


@pytest.mark.parametrize("how", ["remove each other", "both leave", "both demoted"])
async def test_two_owners_removed_at_once_leave_exactly_one_owner(pool, how):
    rounds = 12
    results = []
    for _ in range(rounds):
        a, b = await make_user(pool), await make_user(pool)
        team = await new_team(pool, a, "Race")
        async with pool.connection() as conn:
            await teams.add_member(conn, team, b, "owner", actor_id=a)

        async def change(actor, target, team=team):
            async with pool.connection() as conn:
                try:
                    if how == "both demoted":
                        await teams.change_role(conn, team, target, "admin", actor_id=actor)
                    else:
                        await teams.remove_member(conn, team, target, actor_id=actor)
                    return "done"
                except teams.LastOwner:
                    return "refused"

        pairs = [(a, b), (b, a)] if how == "remove each other" else [(a, a), (b, b)]
        results.append(sorted(await asyncio.gather(*(change(x, y) for x, y in pairs))))
        async with pool.connection() as conn:
            owners = (
                await (
                    await conn.execute(
                        "SELECT count(*) AS n FROM space_members WHERE space_id = %s AND role = 'owner'",
                        (team.id,),
                    )
                ).fetchone()
            )["n"]
        assert owners == 1
    assert results == [["done", "refused"]] * rounds


async def test_usage_per_member_counts_the_teams_runs_by_who_started_them(pool):
    owner, colleague = await make_user(pool), await make_user(pool)
    team = await new_team(pool, owner)
    async with pool.connection() as conn:
        await teams.add_member(conn, team, colleague, "member", actor_id=owner)
        for starter, n in ((owner, 2), (colleague, 1)):
            for _ in range(n):
                run = await (
                    await conn.execute(
                        "INSERT INTO runs (owner_id, space_id, workflow, version, title, input, status) "
                        "VALUES (%s, %s, 'noop', 1, 't', '{}', 'completed') RETURNING id",
                        (starter, team.id),
                    )
                ).fetchone()
                await conn.execute(
                    "INSERT INTO run_steps (run_id, seq, name, kind, status, tokens_in, tokens_out, cost_usd) "
                    "VALUES (%s, 0, 'draft', 'step', 'completed', 100, 50, 0.25)",
                    (run["id"],),
                )
        # A run in the owner's personal space is not the team's.
        await conn.execute(
            "INSERT INTO runs (owner_id, workflow, version, title, input, status) "
            "VALUES (%s, 'noop', 1, 't', '{}', 'completed')",
            (owner,),
        )
        usage = {r["user_id"]: r for r in await teams.usage_by_member(conn, team.id)}
    assert (usage[owner]["runs"], usage[owner]["steps"], usage[owner]["tokens"]) == (2, 2, 300)
    assert str(usage[owner]["cost_usd"]) == "0.500000"
    assert (usage[colleague]["runs"], usage[colleague]["tokens"]) == (1, 150)


async def test_a_team_sends_at_most_its_hourly_number_of_invitations(pool):
    from app.spaces import invitations

    owner = await make_user(pool)
    team = await new_team(pool, owner, "Mailer")
    async with pool.connection() as conn:
        for i in range(invitations.INVITATIONS_PER_HOUR):
            await invitations.invite(
                conn,
                team,
                f"bulk-{i}-{team.id}@example.test",
                "member",
                actor_id=owner,
                actor_email="owner@example.test",
                base_url="http://baton.test",
            )
        with pytest.raises(teams.TeamError, match="in the last hour"):
            await invitations.invite(
                conn,
                team,
                f"one-too-many-{team.id}@example.test",
                "member",
                actor_id=owner,
                actor_email="owner@example.test",
                base_url="http://baton.test",
            )
        assert len(await invitations.pending(conn, team.id)) == invitations.INVITATIONS_PER_HOUR


async def test_an_invitation_accepted_twice_at_once_is_used_once(pool):
    from app.spaces import invitations
    from tests.support.web import make_user as make_account

    owner = await make_user(pool)
    team = await new_team(pool, owner, "Once")
    invitee = await make_account(pool)
    async with pool.connection() as conn:
        token = await invitations.invite(
            conn,
            team,
            invitee.email,
            "member",
            actor_id=owner,
            actor_email="owner@example.test",
            base_url="http://baton.test",
        )

    async def accept():
        async with pool.connection() as conn:
            try:
                await invitations.accept(conn, token, user_id=invitee.id, email=invitee.email)
                return "joined"
            except invitations.InvitationUnusable as exc:
                return exc.reason

    assert sorted(await asyncio.gather(accept(), accept(), accept())) == ["joined", "used", "used"]
    assert await role_of(pool, team.id, invitee.id) == "member"
    assert [a for a, _ in await audit_actions(pool, team.id)].count("member.add") == 1
