"""A worker's job fetch does not read the jobs queued for later (sql/0106): suspended runs' wake-ups
(sleeps, hooks' timeouts) sort after every job that can run now, so the fetch's cost does not grow
with the number of suspended runs; waking a run now puts its job back among the ready ones."""

import re

import psycopg

SUSPENDED = 3_000
# The candidate query of procrastinate_fetch_job_v2 (sql/0001), as a worker of every queue runs it.
FETCH = """
SELECT jobs.id FROM procrastinate_jobs AS jobs
WHERE NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs AS other_jobs
        WHERE jobs.lock IS NOT NULL AND other_jobs.lock = jobs.lock
          AND (other_jobs.status = 'doing'
               OR (other_jobs.status = 'todo' AND (other_jobs.priority > jobs.priority
                   OR (other_jobs.priority = jobs.priority AND other_jobs.id < jobs.id)))))
  AND jobs.status = 'todo' AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
ORDER BY jobs.priority DESC, jobs.id ASC LIMIT 1
FOR UPDATE OF jobs SKIP LOCKED
"""


async def _priority(conn, job_id: int) -> tuple[int, object]:
    row = await (
        await conn.execute(
            "SELECT priority, scheduled_at FROM procrastinate_jobs WHERE id = %s", (job_id,)
        )
    ).fetchone()
    return row["priority"], row["scheduled_at"]


async def test_a_fetch_finds_the_ready_job_without_reading_the_suspended_runs_wake_ups(pool):
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "SELECT baton_wake_run(gen_random_uuid(), now() + interval '1 day') "
            "FROM generate_series(1, %s)",
            (SUSPENDED,),
        )
        [ready] = await (
            await conn.execute("SELECT baton_wake_run(gen_random_uuid(), NULL) AS id")
        ).fetchall()
        await conn.execute("ANALYZE procrastinate_jobs")  # rolled back below
        # The plan the workers' fetches took under the load test: the to-do jobs in the fetch's
        # order (its partial index), stopping at the first that may run. (With these fresh
        # statistics the planner may sort instead; the walk is what must not grow.)
        await conn.execute("SET LOCAL enable_sort = off")
        plan = "\n".join(
            r["QUERY PLAN"]
            for r in await (await conn.execute("EXPLAIN ANALYZE " + FETCH)).fetchall()
        )
        skipped = sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", plan))
        assert skipped < SUSPENDED / 10, plan
        found = await (await conn.execute(FETCH)).fetchone()
        assert found is not None  # the ready job, or one of the ready jobs queued before it
        raise psycopg.Rollback()
    assert ready["id"]


async def test_a_wake_up_for_later_waits_behind_ready_jobs_until_the_run_is_woken_now(pool):
    async with pool.connection() as conn, conn.transaction():
        run = (await (await conn.execute("SELECT gen_random_uuid() AS id")).fetchone())["id"]
        job = (
            await (
                await conn.execute(
                    "SELECT baton_wake_run(%s, now() + interval '1 hour') AS id", (run,)
                )
            ).fetchone()
        )["id"]
        assert (await _priority(conn, job))[0] == -1
        # A decision (or a cancel) wakes the run now: the same job, ready, among the others.
        await conn.execute("SELECT baton_wake_run(%s, NULL)", (run,))
        assert await _priority(conn, job) == (0, None)
        raise psycopg.Rollback()
