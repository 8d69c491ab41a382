"""Cancel in every state; determinism and version pinning; fan-out order and concurrency."""

import asyncio

import pytest
from pydantic import BaseModel

from app.core.db import open_pool
from app.core.migrations import apply_migrations
from app.engine.commands import cancel_run
from app.engine.errors import InvalidState
from app.engine.hooks import resolve_hook
from app.engine.registry import workflow
from tests.integration.engine import workflows as wf
from tests.support.engine import effects, hook_token, make_user, run_row, start, wait_status


async def jobs_of(pool, run_id) -> list[str]:
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT status FROM procrastinate_jobs WHERE queueing_lock = %s", (f"run:{run_id}",)
            )
        ).fetchall()
    return [r["status"] for r in rows]


async def test_cancel_a_queued_run(fresh_database):
    url = fresh_database()
    apply_migrations(url)
    pool = await open_pool(url, min_size=1, max_size=2)  # no worker on this database
    try:
        user = await make_user(pool)
        run = await start(pool, user, "selftest", steps=3)
        assert (await run_row(pool, run.id))["status"] == "queued"
        async with pool.connection() as conn:
            cancelled = await cancel_run(conn, run.id, owner_id=user)
        assert cancelled.status == "cancelled"
        assert await jobs_of(pool, run.id) == ["cancelled"]
    finally:
        await pool.close()


async def test_cancel_a_sleeping_run(pool, worker, user):
    run = await start(pool, user, "selftest", steps=1, sleep_s=60)
    await wait_status(pool, run.id, "sleeping")
    async with pool.connection() as conn:
        await cancel_run(conn, run.id, owner_id=user)
    assert (await run_row(pool, run.id))["status"] == "cancelled"
    assert "todo" not in await jobs_of(pool, run.id)


async def test_cancel_a_waiting_run_closes_its_hook(pool, worker, user):
    run = await start(pool, user, "test-hook")
    await wait_status(pool, run.id, "waiting")
    token = await hook_token(pool, run.id)
    async with pool.connection() as conn:
        await cancel_run(conn, run.id, owner_id=user)
        with pytest.raises(InvalidState):
            await resolve_hook(conn, token, "approve")
        hook = await (
            await conn.execute("SELECT status FROM hooks WHERE token = %s", (token,))
        ).fetchone()
    assert hook["status"] == "cancelled"


async def test_cancel_a_running_run_aborts_its_long_step(pool, worker, user):
    run = await start(pool, user, "test-slow-step")
    for _ in range(200):
        if await effects(pool, run.id):
            break
        await asyncio.sleep(0.02)
    async with pool.connection() as conn:
        await cancel_run(conn, run.id, owner_id=user)
    done = await wait_status(pool, run.id, "cancelled", timeout=3)  # not the step's 30 s
    assert done["error"]["type"] == "Cancelled"
    [long] = await effects(pool, run.id)
    assert long["finished_at"] is None  # the body was interrupted, not waited for


async def test_changed_code_under_a_running_run_fails_readably(pool, worker, user):
    run = await start(pool, user, "test-changing")
    await wait_status(pool, run.id, "waiting")
    wf.STEP_NAME["value"] = "renamed"
    try:
        async with pool.connection() as conn:
            await resolve_hook(conn, await hook_token(pool, run.id), "approve")
        failed = await wait_status(pool, run.id, "failed")
    finally:
        wf.STEP_NAME["value"] = "original"
    assert failed["error"]["type"] == "NonDeterminism"
    assert "workflow code changed under a running run" in failed["error"]["message"]
    assert "'original'" in failed["error"]["message"] and "'renamed'" in failed["error"]["message"]


class Empty(BaseModel):
    pass


async def test_runs_keep_the_version_they_started_with(pool, worker, user):
    old = await start(pool, user, "test-versioned")
    assert old.version == 1
    await wait_status(pool, old.id, "waiting")

    @workflow(
        name="test-versioned",
        title="Versioned",
        description="v2",
        input=Empty,
        version=2,
        hidden=True,
    )
    async def versioned_v2(run, inp):
        return "v2"

    new = await start(pool, user, "test-versioned")
    assert new.version == 2
    async with pool.connection() as conn:
        await resolve_hook(conn, await hook_token(pool, old.id), "approve")
    assert (await wait_status(pool, old.id, "completed"))["output"] == "v1"
    assert (await wait_status(pool, new.id, "completed"))["output"] == "v2"


async def test_map_returns_results_in_order_within_its_concurrency(pool, worker, user):
    run = await start(pool, user, "test-map", items=9, concurrency=3, hold_s=0.15)
    done = await wait_status(pool, run.id, "completed")
    assert done["output"] == list(range(9))
    spans = [(e["at"], e["finished_at"]) for e in await effects(pool, run.id)]
    assert len(spans) == 9
    most = max(sum(1 for s, f in spans if s <= t < f) for t, _ in spans)
    assert most <= 3
    assert most >= 2  # it did run in parallel
    assert done["progress"] == {"done": 9, "total": 9, "label": "items", "percent": 100}
