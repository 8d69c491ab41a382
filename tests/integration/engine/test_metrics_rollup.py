"""/metrics folds finished runs into one row, so a scrape reads only the runs finished since."""

from datetime import timedelta

from app.web.metrics.store import FINISHED_SINCE, snapshot
from tests.support.engine import make_user, start, wait_status


async def test_a_run_finished_a_while_ago_is_folded_once_and_still_counted(pool, worker):
    user = await make_user(pool)
    run = await start(pool, user, "selftest", steps=3)
    await wait_status(pool, run.id, "completed")
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE runs SET completed_at = now() - %s WHERE id = %s",
            (timedelta(minutes=5), run.id),
        )
        await snapshot(conn)  # folds it (and whatever else finished over a minute ago)
        rollup = await (
            await conn.execute("SELECT rolled_at, rolled_id FROM metrics_rollup")
        ).fetchone()
        mine = await (
            await conn.execute("SELECT completed_at, id FROM runs WHERE id = %s", (run.id,))
        ).fetchone()
        assert (rollup["rolled_at"], str(rollup["rolled_id"])) >= (
            mine["completed_at"],
            str(mine["id"]),
        )
        first = await snapshot(conn)
        second = await snapshot(conn)
        # Nothing counted twice: a second scrape adds only what finished in between.
        assert second["step_durations"]["total"] >= first["step_durations"]["total"] >= 3
        assert second["runs"]["completed"] >= first["runs"]["completed"] >= 1


async def test_a_scrape_reads_finished_runs_through_the_index_from_the_fold_on(pool):
    async with pool.connection() as conn, conn.transaction():
        # The test database is small, where a scan is cheaper: check the index can serve it.
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = await (
            await conn.execute(
                "EXPLAIN " + FINISHED_SINCE,
                {
                    "after_at": "2026-01-01T00:00:00+00:00",
                    "after_id": "00000000-0000-0000-0000-000000000000",
                    "fold": False,
                },
            )
        ).fetchall()
    text = "\n".join(r["QUERY PLAN"] for r in plan)
    assert "runs_completed_at" in text, text
    # Steps and hooks are looked up per run, never hashed from a scan of the whole table.
    assert "run_steps_pkey" in text and "Seq Scan on run_steps" not in text, text
