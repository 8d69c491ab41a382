"""What the start path's locks let through side by side (app/engine/quotas.py `lock_spaces`): starts
in a space with no quota wait for each other only at their last write, the month's counts (a
crowded second of one owner's schedules fires in parallel batches); starts in a space with a quota
take turns from the start, so its count stays exact; two starts with the same idempotency key take
turns wherever they are, the second getting the first's run."""

import asyncio
import time

from app.engine.commands import start_run
from tests.support.engine import make_user


async def _waiting(pool) -> str | None:
    """The statement a session of this test's database is waiting in for a lock, if any."""
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' LIMIT 1"
            )
        ).fetchone()
    return row["query"] if row else None


async def _blocked_in(pool, timeout: float = 20.0) -> str:
    """Waits until a session waits for a lock; returns its statement."""
    deadline = time.monotonic() + timeout
    while (query := await _waiting(pool)) is None:
        assert time.monotonic() < deadline, "no session waited for a lock"
        await asyncio.sleep(0.05)
    return query


async def _start_in_transaction(pool, owner: int, key: str | None = None) -> tuple[dict, bool]:
    async with pool.connection() as conn, conn.transaction():
        return await start_run(
            conn, owner_id=owner, workflow="test-hook", input={}, idempotency_key=key
        )


async def test_starts_in_a_space_without_a_quota_wait_only_for_the_counts(pool):
    owner = await make_user(pool, tier="enterprise")  # no monthly quota
    async with pool.connection() as first:
        async with first.transaction():
            await start_run(first, owner_id=owner, workflow="test-hook", input={})
            second = asyncio.create_task(_start_in_transaction(pool, owner))
            # Past the space's lock, its run inserted: it waits at the month's counts only.
            assert "INSERT INTO space_month_runs" in await _blocked_in(pool)
            assert not second.done()
        _, created = await asyncio.wait_for(second, timeout=30)
    assert created


async def test_starts_in_a_space_with_a_quota_take_turns(pool):
    owner = await make_user(pool, tier="pro")  # 10 runs a month
    async with pool.connection() as first:
        async with first.transaction():
            await start_run(first, owner_id=owner, workflow="test-hook", input={})
            second = asyncio.create_task(_start_in_transaction(pool, owner))
            assert "FOR NO KEY UPDATE" in await _blocked_in(pool)  # the space's lock
            assert not second.done()
        _, created = await asyncio.wait_for(second, timeout=30)
    assert created


async def test_concurrent_starts_with_one_idempotency_key_make_one_run(pool):
    owner = await make_user(pool, tier="enterprise")
    async with pool.connection() as first:
        async with first.transaction():
            run, created = await start_run(
                first, owner_id=owner, workflow="test-hook", input={}, idempotency_key="once"
            )
            second = asyncio.create_task(_start_in_transaction(pool, owner, key="once"))
            assert "pg_advisory_xact_lock" in await _blocked_in(pool)
            assert not second.done()
        again, created_again = await asyncio.wait_for(second, timeout=30)
    assert created and not created_again and again.id == run.id
