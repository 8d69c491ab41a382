"""Issue 20, runs in spaces: `baton runs start/list/show --team SLUG`, the run's space in
`runs show --json`, and a team's monthly quota shared by its members under concurrent starts."""

import asyncio
import json

import psycopg
from psycopg.rows import dict_row

from app.core.policy import Forbidden
from app.engine.commands import get_run, list_runs, start_run
from app.engine.errors import QuotaExceeded, RunNotFound
from tests.integration.engine.test_cli_runs import baton
from tests.support.engine import make_user
from tests.support.team_runs import add_member, make_team


async def _email(pool, user_id: int) -> str:
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT email FROM users WHERE id = %s", (user_id,))
        ).fetchone()
    return row["email"]


async def test_the_cli_starts_lists_and_shows_runs_of_a_team(database_url, tmp_path, pool):
    alice, bob, viewer = await make_user(pool), await make_user(pool), await make_user(pool)
    team, slug = await make_team(pool, alice)
    await add_member(pool, team, bob, "member")
    await add_member(pool, team, viewer, "viewer")
    bobs_email = await _email(pool, bob)
    started = await baton(
        database_url,
        tmp_path,
        "runs",
        "start",
        "test-hook",
        "--as",
        bobs_email,
        "--team",
        slug,
        "--json",
        modules="tests.integration.engine.workflows",
    )
    assert started.returncode == 0, started.stderr
    run = json.loads(started.stdout)
    assert run["space"]["id"] == team and run["space"]["kind"] == "team"
    assert run["space"]["slug"] == slug and run["space"]["name"].startswith("Team ")
    personal = await baton(
        database_url,
        tmp_path,
        "runs",
        "start",
        "test-hook",
        "--as",
        bobs_email,
        "--json",
        modules="tests.integration.engine.workflows",
    )
    assert json.loads(personal.stdout)["space"]["kind"] == "personal"

    shown = await baton(database_url, tmp_path, "runs", "show", run["id"], "--json")
    assert json.loads(shown.stdout)["space"] == run["space"]
    text = await baton(database_url, tmp_path, "runs", "show", run["id"])
    assert f"in team {run['space']['name']} ({slug})" in text.stdout
    in_team = await baton(
        database_url, tmp_path, "runs", "show", run["id"], "--team", slug, "--json"
    )
    assert in_team.returncode == 0, in_team.stderr
    elsewhere = await baton(
        database_url, tmp_path, "runs", "show", run["id"], "--as", bobs_email, "--json"
    )
    assert elsewhere.returncode == 1 and "no such run" in elsewhere.stderr  # his personal space

    listed = await baton(
        database_url, tmp_path, "runs", "list", "--team", slug, "--as", await _email(pool, alice)
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[0] == run["id"] and len(listed.stdout.splitlines()) == 1

    unknown = await baton(
        database_url, tmp_path, "runs", "list", "--team", "no-such-team", "--as", bobs_email
    )
    assert unknown.returncode == 2 and "no-such-team" in unknown.stderr
    stranger = await make_user(pool)
    not_member = await baton(
        database_url,
        tmp_path,
        "runs",
        "start",
        "test-hook",
        "--as",
        await _email(pool, stranger),
        "--team",
        slug,
        modules="tests.integration.engine.workflows",
    )
    assert not_member.returncode == 2 and slug in not_member.stderr
    as_viewer = await baton(
        database_url,
        tmp_path,
        "runs",
        "start",
        "test-hook",
        "--as",
        await _email(pool, viewer),
        "--team",
        slug,
        modules="tests.integration.engine.workflows",
    )
    assert as_viewer.returncode == 1 and "viewer" in as_viewer.stderr


async def test_engine_reads_take_a_space(pool):
    alice, bob = await make_user(pool), await make_user(pool)
    team, _ = await make_team(pool, alice)
    await add_member(pool, team, bob, "member")
    async with pool.connection() as conn:
        in_team, _ = await start_run(
            conn, owner_id=bob, space_id=team, workflow="test-hook", input={}
        )
        own, _ = await start_run(conn, owner_id=bob, workflow="test-hook", input={})
        assert (await get_run(conn, in_team.id, space_id=team)).space_kind == "team"
        try:
            await get_run(conn, own.id, space_id=team)
            raise AssertionError("a personal run was found in the team")
        except RunNotFound:
            pass
        rows, _ = await list_runs(conn, owner_id=None, space_id=team)
        assert [r.id for r in rows] == [in_team.id]
        # owner_id keeps its meaning: the runs the user started, wherever they live
        rows, _ = await list_runs(conn, owner_id=bob)
        assert {r.id for r in rows} == {in_team.id, own.id}
        rows, _ = await list_runs(conn, owner_id=None, limit=1000)
        assert in_team.id in {r.id for r in rows}


async def _start_many(database_url: str, user_id: int, team: int, n: int) -> tuple[int, int]:
    """`n` starts by one member on its own connection: (started, refused)."""
    started = refused = 0
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        for _ in range(n):
            try:
                await start_run(
                    conn, owner_id=user_id, space_id=team, workflow="test-hook", input={}
                )
                started += 1
            except QuotaExceeded as exc:
                assert "monthly workflow limit reached (10 on Pro)" in str(exc)
                assert "team Team " in str(exc)  # the message names the team whose plan it is
                refused += 1
    return started, refused


async def test_concurrent_starts_by_three_members_never_exceed_the_teams_quota(database_url, pool):
    members = [await make_user(pool, tier="enterprise") for _ in range(3)]  # unlimited themselves
    team, _ = await make_team(pool, members[0], tier="pro")  # the team's plan: 10 runs a month
    for user in members[1:]:
        await add_member(pool, team, user, "member")
    outcomes = await asyncio.gather(*(_start_many(database_url, u, team, 6) for u in members))
    assert sum(s for s, _ in outcomes) == 10 and sum(r for _, r in outcomes) == 8
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT count(*) AS n FROM runs WHERE space_id = %s", (team,))
        ).fetchone()
    assert row["n"] == 10
    # each member's personal space keeps its own (unlimited) plan
    async with pool.connection() as conn:
        run, _ = await start_run(conn, owner_id=members[1], workflow="test-hook", input={})
    assert run.space_id != team


async def test_a_viewer_may_not_start_and_a_stranger_is_not_found(pool):
    owner, viewer, stranger = await make_user(pool), await make_user(pool), await make_user(pool)
    team, _ = await make_team(pool, owner)
    await add_member(pool, team, viewer, "viewer")
    async with pool.connection() as conn:
        for user, error in ((viewer, Forbidden), (stranger, RunNotFound)):
            try:
                await start_run(conn, owner_id=user, space_id=team, workflow="test-hook", input={})
                raise AssertionError("started")
            except error:
                pass


async def test_a_replayed_run_stays_in_its_sources_space(pool, worker):
    from app.engine import replays
    from app.engine.commands import cancel_run
    from tests.support.engine import wait_status
    from tests.support.waiting import wait_for

    alice, bob = await make_user(pool), await make_user(pool)
    team, _ = await make_team(pool, bob)
    await add_member(pool, team, alice, "member")
    async with pool.connection() as conn:
        in_team, _ = await start_run(
            conn, owner_id=alice, space_id=team, workflow="test-hook", input={}
        )
        own, _ = await start_run(conn, owner_id=alice, workflow="test-hook", input={})
        for run in (in_team, own):
            await cancel_run(conn, run.id)
    for run in (in_team, own):  # a run the worker was advancing stops at its next step
        await wait_status(pool, run.id, "cancelled")
    async with pool.connection() as conn:
        selected = await replays.select_runs(
            conn, workflow="test-hook", statuses=["cancelled"], owner_id=alice
        )
        assert len(selected) == 2
        replay = await replays.create_replay(
            conn,
            requested_by=alice,
            owner_id=alice,
            workflow="test-hook",
            statuses=["cancelled"],
            from_step="start",
            selected=selected,
        )

    async def all_done():
        async with pool.connection() as conn:
            found = await replays.get_replay(conn, replay["id"], user_id=alice)
        return found["status"] == "completed" and found

    done = await wait_for(all_done, timeout=30, what="the replay to finish")
    assert done["counts"]["started"] == 2, done["items"]
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT rerun_of, space_id FROM runs WHERE rerun_of = ANY(%s)",
                ([in_team.id, own.id],),
            )
        ).fetchall()
    spaces = {r["rerun_of"]: r["space_id"] for r in rows}
    assert spaces == {in_team.id: team, own.id: own.space_id}
