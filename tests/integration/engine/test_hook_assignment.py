"""Hooks assigned to a person or a team's role, and N-of-M approvals, at the engine: decisions are
recorded once per person under the hook's lock, the hook resolves once (the last approval needed,
or the first rejection) and its run resumes once, each decision with its audit entry."""

from __future__ import annotations

import asyncio

import pytest

from app.engine.commands import start_run
from app.engine.errors import AlreadyDecided
from app.engine.hooks import check_assignment, resolve_hook, waiting_for
from app.engine.rows import HookAfterDecision
from tests.support.engine import effects, make_user, wait_status
from tests.support.teams import make_team_of


async def email_of(pool, user_id: int) -> str:
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT email FROM users WHERE id = %s", (user_id,))
        ).fetchone()
    return row["email"]


async def team_run(pool, owner: int, space_id: int | None, **input) -> dict:
    async with pool.connection() as conn:
        run, _ = await start_run(
            conn, owner_id=owner, workflow="test-team-review", input=input, space_id=space_id
        )
    await wait_status(pool, run.id, "waiting")
    return run


async def the_hook(pool, run_id) -> dict:
    async with pool.connection() as conn:
        return await (
            await conn.execute("SELECT * FROM hooks WHERE run_id = %s", (run_id,))
        ).fetchone()


async def rows(pool, sql: str, *args) -> list[dict]:
    async with pool.connection() as conn:
        return await (await conn.execute(sql, args)).fetchall()


@pytest.fixture
async def team(pool):
    owner, a1, a2, a3, member = [await make_user(pool) for _ in range(5)]
    roles = {owner: "owner", a1: "admin", a2: "admin", a3: "admin", member: "member"}
    space = await make_team_of(pool, roles)
    return {"space": space, "owner": owner, "admins": [a1, a2, a3], "member": member}


async def test_two_of_three_concurrent_approvals_record_two_and_resume_the_run_once(
    pool, worker, team
):
    run = await team_run(pool, team["owner"], team["space"]["id"], assign_role="admin", required=2)
    hook = await the_hook(pool, run.id)
    assert (hook["assigned_role"], hook["required"]) == ("admin", 2)

    async def approve(user_id: int):
        email = await email_of(pool, user_id)
        async with pool.connection() as conn:
            return await resolve_hook(
                conn, hook["token"], "approve", decided_by=email, user_id=user_id
            )

    outcomes = await asyncio.gather(*(approve(a) for a in team["admins"]), return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], AlreadyDecided), outcomes
    assert "already decided (approve)" in str(refused[0])
    decided = [o.status for o in outcomes if isinstance(o, HookAfterDecision)]
    assert sorted(decided) == ["resolved", "waiting"]

    done = await wait_status(pool, run.id, "completed")
    assert done["output"]["action"] == "approve"
    decisions = await rows(
        pool, "SELECT user_id, action FROM hook_decisions WHERE hook_id = %s", hook["id"]
    )
    assert len(decisions) == 2 and {d["action"] for d in decisions} == {"approve"}
    assert {d["user_id"] for d in decisions} < set(team["admins"])
    resolved = await rows(
        pool,
        "SELECT kind FROM run_events WHERE run_id = %s AND kind IN ('hook_resolved', 'hook_decision')",
        run.id,
    )
    assert sorted(e["kind"] for e in resolved) == ["hook_decision", "hook_resolved"]
    assert [e["name"] for e in await effects(pool, run.id)] == ["after review"]
    audit = await rows(
        pool,
        "SELECT actor_id, detail FROM audit_log WHERE space_id = %s AND action = 'hook.decide' "
        "AND object_id = %s ORDER BY id",
        team["space"]["id"],
        str(hook["id"]),
    )
    assert [a["detail"]["approvals"] for a in audit] == [1, 2]
    assert [a["detail"]["resolved"] for a in audit] == [False, True]
    assert {a["actor_id"] for a in audit} == {d["user_id"] for d in decisions}


async def test_a_person_counts_once_and_a_rejection_after_one_approval_rejects(pool, worker, team):
    run = await team_run(pool, team["owner"], team["space"]["id"], assign_role="admin", required=2)
    hook = await the_hook(pool, run.id)
    a1, a2, _ = team["admins"]
    async with pool.connection() as conn:
        first = await resolve_hook(
            conn, hook["token"], "approve", decided_by=await email_of(pool, a1), user_id=a1
        )
        assert first.status == "waiting" and first.approvals == 1
        with pytest.raises(AlreadyDecided, match="one answer each"):
            await resolve_hook(
                conn, hook["token"], "approve", decided_by=await email_of(pool, a1), user_id=a1
            )
        rejected = await resolve_hook(
            conn, hook["token"], "reject", decided_by=await email_of(pool, a2), user_id=a2
        )
    assert rejected.status == "resolved" and rejected.action == "reject"
    done = await wait_status(pool, run.id, "completed")
    assert done["output"] == {"action": "reject", "decided_by": await email_of(pool, a2)}


async def test_the_inbox_lists_a_role_hook_for_the_role_and_above_until_they_answer(
    pool, worker, team
):
    run = await team_run(pool, team["owner"], team["space"]["id"], assign_role="admin", required=2)
    hook = await the_hook(pool, run.id)
    outsider = await make_user(pool)

    async def inbox(user_id: int) -> list[int]:
        async with pool.connection() as conn:
            found = await waiting_for(conn, user_id, await email_of(pool, user_id))
        return [h.id for h in found]

    a1 = team["admins"][0]
    assert hook["id"] in await inbox(a1) and hook["id"] in await inbox(team["owner"])
    assert hook["id"] not in await inbox(team["member"]) and hook["id"] not in await inbox(outsider)
    async with pool.connection() as conn:
        await resolve_hook(
            conn, hook["token"], "approve", decided_by=await email_of(pool, a1), user_id=a1
        )
    assert hook["id"] not in await inbox(a1)  # answered: no longer waiting for them
    assert hook["id"] in await inbox(team["admins"][1])


async def test_a_role_assignment_needs_a_team_run(pool, worker, user):
    async with pool.connection() as conn:
        run, _ = await start_run(
            conn, owner_id=user, workflow="test-team-review", input={"assign_role": "admin"}
        )
    failed = await wait_status(pool, run.id, "failed")
    assert "needs a team's run" in failed["error"]["message"]


@pytest.mark.parametrize(
    ("kind", "assignee", "role", "required", "message"),
    [
        ("approval", None, "boss", 1, "unknown role 'boss'"),
        ("approval", "a@example.com", "admin", 1, "not both"),
        ("approval", None, None, 2, "need a role"),
        ("input", None, "member", 2, "only an approval"),
        ("approval", None, "admin", 0, "between 1 and 20"),
    ],
)
def test_an_impossible_assignment_is_refused_before_anything_is_written(
    kind, assignee, role, required, message
):
    with pytest.raises(ValueError, match=message):
        check_assignment(kind, assignee, role, required)
    check_assignment("approval", None, "admin", 2)
