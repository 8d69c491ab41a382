"""A publishing run that started on version 1 (before failed posts were recorded in the schedule)
keeps running version 1's code after the deploy: its failure path journals no step version 1 did
not have, so it finishes instead of stopping with "workflow code changed under a running run"."""

from __future__ import annotations

from app.engine.commands import start_run
from app.engine.registry import get_workflow
from tests.integration.publishing.conftest import FINISH_S, SECRET, add_connector, first_slot, rows
from tests.integration.publishing.receiver import Receiver
from tests.integration.publishing.test_publishing_workflow import decide
from tests.integration.workflows.conftest import waiting_hook
from tests.support.engine import make_user, wait_status


async def start_on_version_1(pool, user) -> dict:
    """As a run started before the deploy: the same start, its version set before it is queued."""
    params = {
        "brief": "Our product launch next week",
        "connector": "webhook",
        "posts": 1,
        "spacing": "1h",
        "metrics_after": "1s",
        "retry_delay": "1s",
        **first_slot(1),
    }
    async with pool.connection() as conn, conn.transaction():
        run, _ = await start_run(conn, owner_id=user, workflow="scheduled-publishing", input=params)
        await conn.execute("UPDATE runs SET version = 1 WHERE id = %s", (run.id,))
    return run


async def test_a_version_1_run_takes_its_failure_path_without_nondeterminism(
    pool, worker, writer, model_settings
):
    assert get_workflow("scheduled-publishing").version == 2  # new runs take the new code
    user = await make_user(pool, "pro")
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        rx.fail_next(400)
        run = await start_on_version_1(pool, user)
        await decide(pool, await waiting_hook(pool, run.id, "review posts"), "approve")
        await decide(pool, await waiting_hook(pool, run.id, "post 1 failed", timeout=20), "retry")
        done = await wait_status(pool, run.id, "completed", timeout=FINISH_S)
    assert done["version"] == 1 and done["output"]["published"] == 1
    steps = [
        s["name"]
        for s in await rows(
            pool, "SELECT name FROM run_steps WHERE run_id = %s ORDER BY seq", run.id
        )
    ]
    assert "post 1 failed" in steps and "publish post 1 (try 2)" in steps
    assert "record failure of post 1" not in steps and "retry post 1" not in steps


async def test_a_publishing_run_is_rerun_from_the_start_only(pool, worker, writer, model_settings):
    from app.engine.commands import plan_rerun
    from app.engine.errors import InvalidState

    user = await make_user(pool, "pro")
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        run = await start_on_version_1(pool, user)
        await waiting_hook(pool, run.id, "review posts")
    async with pool.connection() as conn:
        try:
            await plan_rerun(conn, run.id, owner_id=user, from_step="write posts")
            raise AssertionError("a rerun from a later step was planned")
        except InvalidState as exc:
            assert "only be rerun from the start" in str(exc)
        _, plan = await plan_rerun(conn, run.id, owner_id=user, from_step="failed")
        assert plan.seq == 0 and plan.version is None
