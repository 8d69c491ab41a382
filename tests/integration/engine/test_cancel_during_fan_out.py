"""Cancelling a run while its fan-out children finish: the cancel and the children's completions
take the run's locks in one order, so neither fails with a deadlock (found by bench/documents.py,
which cancelled a document run while its summaries were finishing)."""

from __future__ import annotations

from functools import partial

from app.engine.commands import cancel_run
from tests.support.engine import start, wait_status
from tests.support.waiting import wait_for


async def completed_children(pool, run_id) -> int:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) AS n FROM run_children WHERE run_id = %s AND status = 'completed'",
                (run_id,),
            )
        ).fetchone()
    return row["n"]


async def at_least(pool, run_id, count: int) -> bool:
    return await completed_children(pool, run_id) >= count


async def test_cancel_while_children_finish_never_deadlocks(pool, worker, user):
    for _ in range(25):
        run = await start(pool, user, "test-map", items=80, concurrency=16, hold_s=0.0)
        await wait_for(
            partial(at_least, pool, run.id, 20), interval=0.005, what="20 children to complete"
        )
        async with pool.connection() as conn:
            await cancel_run(conn, run.id, owner_id=user)  # raised DeadlockDetected now and then
        await wait_status(pool, run.id, "cancelled", timeout=10)
