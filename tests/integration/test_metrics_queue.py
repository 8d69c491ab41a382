"""/metrics's queue gauges cost the same with a long job history: Procrastinate keeps every
finished job unless pruned, and the gauges count only the jobs still to do, through the partial
index on the to-do jobs (`baton_jobs_todo_scheduled`, sql/0005_engine.sql)."""

import re
from datetime import timedelta

import psycopg

from app.web.metrics.store import OLDEST_READY_JOB, QUEUE

HISTORY = 20_000


async def _plan(conn, query: str) -> str:
    rows = await (await conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query)).fetchall()
    return "\n".join(r["QUERY PLAN"] for r in rows)


async def test_the_queue_gauges_count_to_do_jobs_without_reading_the_finished_ones(pool):
    async with pool.connection() as conn, conn.transaction():
        before = await (await conn.execute(QUEUE)).fetchone()
        # A long history (finished and failed jobs, some scheduled once) beside a few jobs to do.
        await conn.execute(
            """
            INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, scheduled_at)
            SELECT 'metrics-test', 'history', '{}',
                   (ARRAY['succeeded', 'failed', 'cancelled'])[g %% 3 + 1]::procrastinate_job_status,
                   CASE WHEN g %% 2 = 0 THEN now() - interval '1 hour' END
            FROM generate_series(1, %(n)s) g""",
            {"n": HISTORY},
        )
        await conn.execute(
            """
            INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, scheduled_at)
            VALUES ('metrics-test', 'ready', '{}', 'todo', NULL),
                   ('metrics-test', 'due', '{}', 'todo', now() - %(ago)s),
                   ('metrics-test', 'later', '{}', 'todo', now() + interval '1 hour')""",
            {"ago": timedelta(minutes=5)},
        )
        await conn.execute("ANALYZE procrastinate_jobs")  # as autovacuum would, rolled back below

        queue = await (await conn.execute(QUEUE)).fetchone()
        assert queue["ready"] == before["ready"] + 2
        assert queue["scheduled"] == before["scheduled"] + 1
        oldest = await (await conn.execute(OLDEST_READY_JOB)).fetchone()
        assert oldest["seconds"] >= 5 * 60

        for query in (QUEUE, OLDEST_READY_JOB):
            plan = await _plan(conn, query)
            assert "Seq Scan on procrastinate_jobs" not in plan, plan
            assert "baton_jobs_todo_scheduled" in plan, plan
            # Pages read: a handful for the to-do jobs, not the history's hundreds.
            # (the top node's count includes its children's; planning's own reads are apart)
            executed = plan.split("Planning")[0]
            read = max(
                sum(map(int, re.findall(r"(?:hit|read)=(\d+)", line)))
                for line in executed.splitlines()
            )
            assert read < 100, plan
        raise psycopg.Rollback()
