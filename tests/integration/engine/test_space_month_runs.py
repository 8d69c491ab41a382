"""The quota's own count of a space's runs per month (space_month_runs, sql/0100), kept by the one
start path (`start_runs`, which `start_run` is for a batch of one): what it counts, where, per
month, and that no interleaving of starts takes a space past its quota."""

import asyncio

import psycopg
from psycopg.rows import dict_row

from app.engine.commands import Start, start_run, start_runs
from app.engine.errors import QuotaExceeded
from tests.support.engine import make_user
from tests.support.teams import make_team, personal_space_id


async def _counted(pool, space_id: int) -> dict:
    """{month: runs} of the space's count."""
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT month, runs FROM space_month_runs WHERE space_id = %s", (space_id,)
            )
        ).fetchall()
    return {r["month"]: r["runs"] for r in rows}


async def test_a_new_month_starts_a_new_count_and_last_month_s_is_kept(pool):
    user = await make_user(pool, tier="pro")  # 10 runs a month
    space = await personal_space_id(pool, user)
    async with pool.connection() as conn:
        for _ in range(10):
            await start_run(conn, owner_id=user, workflow="test-hook", input={})
        (this_month,) = (await _counted(pool, space)).keys()
        assert await _counted(pool, space) == {this_month: 10}
        # The month turns: the count so far becomes last month's.
        await conn.execute(
            "UPDATE space_month_runs SET month = (month - interval '1 month')::date "
            "WHERE space_id = %s",
            (space,),
        )
        await start_run(conn, owner_id=user, workflow="test-hook", input={})
    counted = await _counted(pool, space)
    assert counted[this_month] == 1 and sorted(counted.values()) == [1, 10]


async def test_an_operator_check_is_usage_but_not_counted_against_the_quota(pool):
    user = await make_user(pool, tier="pro")
    space = await personal_space_id(pool, user)
    async with pool.connection() as conn:
        for _ in range(3):
            await start_run(conn, owner_id=user, workflow="selftest", input={})
        await start_run(conn, owner_id=user, workflow="test-hook", input={})
        usage = await (
            await conn.execute("SELECT runs FROM usage_monthly WHERE user_id = %s", (user,))
        ).fetchone()
    assert list((await _counted(pool, space)).values()) == [1]
    assert usage["runs"] == 4


async def test_a_member_s_run_in_a_team_counts_for_the_team_not_their_own_space(pool):
    alice, bob = await make_user(pool, tier="pro"), await make_user(pool, tier="pro")
    team = await make_team(pool, alice, {bob: "member"}, tier="pro")
    async with pool.connection() as conn:
        await start_run(conn, owner_id=bob, workflow="test-hook", input={}, space_id=team["id"])
        await start_run(conn, owner_id=alice, workflow="test-hook", input={}, space_id=team["id"])
        await start_run(conn, owner_id=bob, workflow="test-hook", input={})
    assert list((await _counted(pool, team["id"])).values()) == [2]
    assert list((await _counted(pool, await personal_space_id(pool, bob))).values()) == [1]
    assert await _counted(pool, await personal_space_id(pool, alice)) == {}


async def test_concurrent_single_and_batched_starts_never_take_a_space_past_its_quota(
    pool, database_url
):
    """Ten connections race single starts and batches of five into one team (Pro: 10 a month)
    through two members: exactly ten runs start, the rest are refused, and the count says ten."""
    alice, bob = await make_user(pool), await make_user(pool)
    team = await make_team(pool, alice, {bob: "member"}, tier="pro")

    async def racer(i: int) -> list:
        async with await psycopg.AsyncConnection.connect(
            database_url, autocommit=True, row_factory=dict_row
        ) as conn:
            who = alice if i % 2 else bob
            if i % 3:
                return await start_runs(
                    conn,
                    [
                        Start(owner_id=who, workflow="test-hook", input={}, space_id=team["id"])
                        for _ in range(5)
                    ],
                )
            try:
                return [
                    await start_run(
                        conn, owner_id=who, workflow="test-hook", input={}, space_id=team["id"]
                    )
                ]
            except QuotaExceeded as exc:
                return [exc]

    results = [r for rs in await asyncio.gather(*[racer(i) for i in range(10)]) for r in rs]
    started = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(started) == 10 and len(refused) == len(results) - 10
    assert "team " in str(refused[0]) and "(10 on Pro)" in str(refused[0])
    async with pool.connection() as conn:
        runs = await (
            await conn.execute("SELECT count(*) AS n FROM runs WHERE space_id = %s", (team["id"],))
        ).fetchone()
    assert runs["n"] == 10 and list((await _counted(pool, team["id"])).values()) == [10]


async def test_a_batch_applies_the_quota_in_order_and_starts_a_repeated_key_once(pool):
    user = await make_user(pool, tier="pro")
    async with pool.connection() as conn:
        for _ in range(7):
            await start_run(conn, owner_id=user, workflow="test-hook", input={})
        results = await start_runs(
            conn,
            [
                Start(owner_id=user, workflow="test-hook", input={}, idempotency_key="a"),
                Start(owner_id=user, workflow="test-hook", input={}, idempotency_key="a"),
                Start(owner_id=user, workflow="no-such-workflow", input={}),
                Start(owner_id=user, workflow="test-hook", input={}),
                Start(owner_id=user, workflow="test-hook", input={}),
                Start(owner_id=user, workflow="test-hook", input={}),
            ],
        )
    first, again, unknown, second, third, over = results
    assert first[1] is True and again == (first[0], False)
    assert type(unknown).__name__ == "WorkflowNotFound"
    assert second[1] is True and third[1] is True and isinstance(over, QuotaExceeded)
