"""A database error under a running workflow is an outage, not the workflow's failure."""

from app.engine.recovery import requeue_orphans
from tests.support.engine import effects, journal, run_row, start, wait_status
from tests.support.waiting import wait_for


async def test_a_lost_connection_leaves_the_run_to_recovery_instead_of_failing_it(
    pool, worker, user
):
    run = await start(pool, user, "test-db-blip", blips=1)

    async def job_ended():
        async with pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT count(*) AS n FROM procrastinate_jobs WHERE lock = %s AND status IN ('todo', 'doing')",
                    (f"run:{run.id}",),
                )
            ).fetchone()
        return row["n"] == 0 and any(e["name"] == "blip" for e in await effects(pool, run.id))

    await wait_for(job_ended, timeout=30, what="the advance that lost its connection to end")
    assert (await run_row(pool, run.id))["status"] == "running"  # not "failed"

    async with pool.connection() as conn:
        assert await requeue_orphans(conn, grace_s=0) == 1
    done = await wait_status(pool, run.id, "completed", timeout=30)
    assert done["output"] == {"blips": 1}
    assert [s["name"] for s in await journal(pool, run.id)] == ["before", "after"]
