"""Tier quotas under concurrency, usage and cost accounting, the maximum run duration."""

import asyncio
from decimal import Decimal

from app.engine.commands import start_run
from app.engine.errors import QuotaExceeded
from app.engine.recovery import sweep
from tests.support.engine import make_user, start, wait_status
from tests.support.waiting import wait_for


async def test_twenty_concurrent_starts_on_pro_give_exactly_ten_runs(pool):
    user = await make_user(pool, tier="pro")

    async def attempt():
        async with pool.connection() as conn:
            try:
                await start_run(conn, owner_id=user, workflow="test-hook", input={})
                return "started"
            except QuotaExceeded as exc:
                return str(exc)

    outcomes = await asyncio.gather(*(attempt() for _ in range(20)))
    assert outcomes.count("started") == 10
    assert set(outcomes) - {"started"} == {"monthly workflow limit reached (10 on Pro)"}
    async with pool.connection() as conn:
        usage = await (
            await conn.execute("SELECT runs FROM usage_monthly WHERE user_id = %s", (user,))
        ).fetchone()
    assert usage["runs"] == 10


async def test_free_tier_cannot_start_but_operator_selftest_is_exempt(pool, worker):
    user = await make_user(pool, tier="free")
    async with pool.connection() as conn:
        try:
            await start_run(conn, owner_id=user, workflow="test-hook", input={})
            raise AssertionError("free tier started a run")
        except QuotaExceeded as exc:
            assert str(exc) == "monthly workflow limit reached (0 on Free)"
        run, _ = await start_run(conn, owner_id=user, workflow="selftest", input={"steps": 1})
    await wait_status(pool, run.id, "completed")


async def test_model_steps_are_priced_and_usage_is_counted(pool, worker):
    user = await make_user(pool)
    run = await start(pool, user, "test-usage")
    done = await wait_status(pool, run.id, "completed")
    # gpt-4o: $0.0025 per 1k in, $0.01 per 1k out -> 2 * 0.0025 + 1 * 0.01
    assert (
        done["cost_usd"] == Decimal("0.015")
        and done["tokens_in"] == 2000
        and done["tokens_out"] == 1000
    )
    assert done["steps_done"] == 2
    async with pool.connection() as conn:
        usage = await (
            await conn.execute("SELECT * FROM usage_monthly WHERE user_id = %s", (user,))
        ).fetchone()
        step = await (
            await conn.execute(
                "SELECT model, cost_usd FROM run_steps WHERE run_id = %s AND name = 'model'",
                (run.id,),
            )
        ).fetchone()
    assert (usage["runs"], usage["steps"], usage["tokens_in"], usage["tokens_out"]) == (
        1,
        2,
        2000,
        1000,
    )
    assert usage["cost_usd"] == Decimal("0.015")
    assert step == {"model": "gpt-4o", "cost_usd": Decimal("0.015")}


async def past_deadline(pool, run_id) -> bool:
    """The database's clock (the one the sweep reads) is past the run's deadline."""
    async with pool.connection() as conn:
        return (
            await (
                await conn.execute(
                    "SELECT deadline_at < now() AS over FROM runs WHERE id = %s", (run_id,)
                )
            ).fetchone()
        )["over"]


async def test_runs_past_their_maximum_duration_are_cancelled_with_a_reason(pool, worker):
    user = await make_user(pool)
    run = await start(pool, user, "test-deadline")
    await wait_status(pool, run.id, "waiting")
    await wait_for(
        lambda: past_deadline(pool, run.id), timeout=5, what="the run's deadline to pass"
    )
    async with pool.connection() as conn:
        result = await sweep(conn)
    assert result["overdue"] >= 1
    done = await wait_status(pool, run.id, "cancelled")
    assert (
        done["error"]["message"] == "cancelled: the run exceeded its maximum duration of 1 seconds"
    )
    async with pool.connection() as conn:
        notice = await (
            await conn.execute(
                "SELECT kind, title, url FROM notifications WHERE run_id = %s AND kind <> 'approval_needed'",
                (run.id,),
            )
        ).fetchone()
    assert notice["kind"] == "run_stopped" and "maximum duration of 1 seconds" in notice["title"]
    assert notice["url"] == f"/workflows/{run.id}"
