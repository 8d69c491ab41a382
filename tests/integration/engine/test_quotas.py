"""app/engine/quotas.py on its own: who may start a run now, by calendar month."""

import pytest

from app.engine import quotas
from app.engine.commands import start_run
from app.engine.errors import QuotaExceeded, RunNotFound
from app.engine.registry import get_workflow
from tests.support.engine import make_user


async def test_last_month_s_runs_do_not_count_toward_this_month_s_quota(pool):
    user = await make_user(pool, tier="pro")  # 10 runs a month
    async with pool.connection() as conn:
        for _ in range(10):
            await start_run(conn, owner_id=user, workflow="test-hook", input={})
        with pytest.raises(QuotaExceeded, match=r"\(10 on Pro\)"):
            await start_run(conn, owner_id=user, workflow="test-hook", input={})
        await conn.execute(
            "UPDATE runs SET created_at = date_trunc('month', now()) - interval '1 day' "
            "WHERE owner_id = %s",
            (user,),
        )
        # ... and so is the quota's own count of them (space_month_runs), kept per month
        await conn.execute(
            "UPDATE space_month_runs SET month = (month - interval '1 month')::date "
            "WHERE space_id = (SELECT id FROM spaces WHERE personal_of = %s)",
            (user,),
        )
        async with conn.transaction():
            owner = await quotas.lock_space(conn, user)
            await quotas.check_run_quota(conn, owner, get_workflow("test-hook"))  # room again


async def test_an_unlimited_tier_and_an_operator_check_are_never_refused(pool):
    user = await make_user(pool, tier="free")  # 0 runs a month
    enterprise = await make_user(pool, tier="enterprise")  # unlimited
    async with pool.connection() as conn, conn.transaction():
        free_owner = await quotas.lock_space(conn, user)
        with pytest.raises(QuotaExceeded, match=r"^monthly workflow limit reached \(0 on Free\)$"):
            await quotas.check_run_quota(conn, free_owner, get_workflow("test-hook"))
        await quotas.check_run_quota(conn, free_owner, get_workflow("selftest"))
        await quotas.check_run_quota(
            conn, await quotas.lock_space(conn, enterprise), get_workflow("test-hook")
        )


async def test_an_unknown_owner_is_not_found(pool):
    async with pool.connection() as conn, conn.transaction():
        with pytest.raises(RunNotFound):
            await quotas.lock_space(conn, 2**62)
