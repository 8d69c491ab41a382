"""/metrics, retention and structured log context."""

import dataclasses
import json
import logging
from datetime import timedelta

from litestar.testing import AsyncTestClient

from app.core.logs import JsonFormatter
from app.engine.retention import prune_finished_runs
from app.web.app import create_app
from tests.support.engine import journal, make_user, start, wait_status


async def test_metrics_need_the_token_off_localhost_and_report_the_engine(
    pool, worker, settings, database_url
):
    user = await make_user(pool)
    done = await start(pool, user, "selftest", steps=3)
    await wait_status(pool, done.id, "completed")
    waiting = await start(pool, user, "test-hook")
    await wait_status(pool, waiting.id, "waiting")
    app = create_app(
        dataclasses.replace(settings, metrics_token="s3cret-metrics"),
        database_url,
        run_worker=False,
    )
    async with AsyncTestClient(app) as client:
        assert (await client.get("/metrics")).status_code == 404  # "testclient" is not localhost
        assert (
            await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        ).status_code == 404
        response = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    completed = next(line for line in lines if line.startswith('baton_runs{status="completed"}'))
    assert int(completed.split()[-1]) >= 1
    assert (
        int(next(line for line in lines if line.startswith("baton_hooks_waiting")).split()[-1]) >= 1
    )
    assert any(line.startswith('baton_step_duration_seconds_bucket{le="+Inf"}') for line in lines)
    assert any(line.startswith("baton_hook_wait_seconds_count") for line in lines)
    assert any(line.startswith("baton_sweeper_recoveries_total") for line in lines)
    assert any(line.startswith('baton_queue_jobs{state="ready"}') for line in lines)


async def test_retention_prunes_journals_of_old_finished_runs_only(pool, worker):
    user = await make_user(pool)
    old = await start(pool, user, "selftest", steps=2)
    recent = await start(pool, user, "selftest", steps=2)
    await wait_status(pool, old.id, "completed")
    await wait_status(pool, recent.id, "completed")
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE runs SET completed_at = now() - %s WHERE id = %s",
            (timedelta(days=91), old.id),
        )
        pruned = await prune_finished_runs(conn, 90)
        row = await (
            await conn.execute(
                "SELECT journal_pruned_at, output FROM runs WHERE id = %s", (old.id,)
            )
        ).fetchone()
    assert pruned >= 1
    assert await journal(pool, old.id) == [] and row["journal_pruned_at"] is not None
    assert row["output"] == {"steps": 2}  # the run itself stays
    assert len(await journal(pool, recent.id)) == 2


async def test_log_lines_inside_a_step_carry_run_workflow_and_step(pool, worker, caplog):
    user = await make_user(pool)
    with caplog.at_level(logging.INFO):
        run = await start(pool, user, "test-errors", mode="fatal")
        await wait_status(pool, run.id, "failed")
    finished = [
        r for r in caplog.records if r.getMessage() == "run.finished" and r.run_id == str(run.id)
    ]
    assert finished
    line = json.loads(JsonFormatter().format(finished[0]))
    assert (
        line["run_id"] == str(run.id)
        and line["workflow"] == "test-errors"
        and line["status"] == "failed"
    )


async def test_finished_queue_jobs_older_than_a_day_are_pruned_and_no_other(pool, worker):
    from app.engine.commands import cancel_run
    from app.engine.retention import prune_finished_jobs

    user = await make_user(pool)
    old, recent, sleeping = [
        await start(pool, user, "selftest", steps=1, sleep_s=120) for _ in range(3)
    ]
    for run in (old, recent, sleeping):
        await wait_status(pool, run.id, "sleeping")

    async def job_of(conn, run, status: str) -> int:
        row = await (
            await conn.execute(
                "SELECT id FROM procrastinate_jobs WHERE queueing_lock = %s AND status = %s",
                (f"run:{run.id}", status),
            )
        ).fetchone()
        assert row is not None
        return row["id"]

    async with pool.connection() as conn:
        await cancel_run(conn, old.id)
        await cancel_run(conn, recent.id)
        jobs = {
            "old": await job_of(conn, old, "cancelled"),
            "recent": await job_of(conn, recent, "cancelled"),
            "sleeping": await job_of(conn, sleeping, "todo"),
        }
        await conn.execute(
            "UPDATE procrastinate_events SET at = now() - interval '25 hours' WHERE job_id = ANY(%s)",
            ([jobs["old"], jobs["sleeping"]],),
        )
        assert await prune_finished_jobs(conn) >= 1
        kept = {
            r["id"]
            for r in await (
                await conn.execute(
                    "SELECT id FROM procrastinate_jobs WHERE id = ANY(%s)", (list(jobs.values()),)
                )
            ).fetchall()
        }
    assert kept == {jobs["recent"], jobs["sleeping"]}  # an unfinished job is never pruned
