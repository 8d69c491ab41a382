"""What the start path's locks let through side by side (app/engine/quotas.py `lock_spaces`): starts
in a space with no quota wait for each other only at their last write, the month's counts (a
crowded second of one owner's schedules fires in parallel batches); starts in a space with a quota
take turns from the start, so its count stays exact; two starts with the same idempotency key take
turns wherever they are, the second getting the first's run."""

import asyncio
import time

from app.engine.commands import start_run
from tests.support.engine import make_user


async def _waiting(pool, pid: int) -> str | None:
    """The statement session `pid` is waiting in for a lock, if it is."""
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT query FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
                (pid,),
            )
        ).fetchone()
    return row["query"] if row else None


async def _blocked_in(pool, second: dict, timeout: float = 20.0) -> str:
    """Waits until the second start's session waits for a lock (not any session of the database:
    a worker of an earlier test may still be finishing a run there); returns its statement."""
    deadline = time.monotonic() + timeout
    while "pid" not in second or (query := await _waiting(pool, second["pid"])) is None:
        assert time.monotonic() < deadline, "the second start did not wait for a lock"
        await asyncio.sleep(0.05)
    return query


async def _start_in_transaction(
    pool, owner: int, second: dict, key: str | None = None
) -> tuple[dict, bool]:
    async with pool.connection() as conn, conn.transaction():
        second["pid"] = conn.info.backend_pid
        return await start_run(
            conn, owner_id=owner, workflow="test-hook", input={}, idempotency_key=key
        )


async def test_starts_in_a_space_without_a_quota_wait_only_for_the_counts(pool):
    owner = await make_user(pool, tier="enterprise")  # no monthly quota
    async with pool.connection() as first:
        async with first.transaction():
            await start_run(first, owner_id=owner, workflow="test-hook", input={})
            seen: dict = {}
            second = asyncio.create_task(_start_in_transaction(pool, owner, seen))
            # Past the space's lock, its run inserted: it waits at the month's counts only.
            assert "INSERT INTO space_month_runs" in await _blocked_in(pool, seen)
            assert not second.done()
        _, created = await asyncio.wait_for(second, timeout=30)
    assert created


async def test_starts_in_a_space_with_a_quota_take_turns(pool):
    owner = await make_user(pool, tier="pro")  # 10 runs a month
    async with pool.connection() as first:
        async with first.transaction():
            await start_run(first, owner_id=owner, workflow="test-hook", input={})
            seen: dict = {}
            second = asyncio.create_task(_start_in_transaction(pool, owner, seen))
            assert "FOR NO KEY UPDATE" in await _blocked_in(pool, seen)  # the space's lock
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
            seen: dict = {}
            second = asyncio.create_task(_start_in_transaction(pool, owner, seen, key="once"))
            assert "pg_advisory_xact_lock" in await _blocked_in(pool, seen)
            assert not second.done()
        again, created_again = await asyncio.wait_for(second, timeout=30)
    assert created and not created_again and again.id == run.id
