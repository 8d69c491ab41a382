"""The recovery sweep runs every 10 s on every worker, so its orphan-run query must stay cheap with
tens of thousands of suspended runs: each pending-job check must use a partial unique index of
procrastinate_jobs, never a scan of the job table per run (issue 14: 23.6 s at 10,000 sleeping runs)."""

import json

import psycopg
import pytest

from app.core.migrations import apply_migrations
from app.engine.recovery import ORPHAN_RUNS, requeue_orphans

# The query before issue 14, kept to prove the check below catches the regression.
QUADRATIC_ORPHAN_RUNS = """
SELECT r.id, r.status, r.wake_at FROM runs r
WHERE r.status IN ('queued', 'running', 'sleeping', 'waiting')
  AND (r.status IN ('queued', 'running') OR r.wake_at IS NOT NULL)
  AND r.updated_at < now() - make_interval(secs => %(grace_s)s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.status IN ('todo', 'doing')
                    AND (j.queueing_lock = 'run:' || r.id::text OR j.lock = 'run:' || r.id::text))
LIMIT 500
"""

# Suspended runs as the engine leaves them, their jobs queued by the engine's own baton_wake_run:
# most due in a day, some due already (their job waits for a free worker).
SEED = """
WITH ins AS (
    INSERT INTO runs (owner_id, workflow, version, title, status, input, waiting_for, wake_at, updated_at)
    SELECT %(owner)s, 'selftest', 1, 'seeded', CASE WHEN g %% 3 = 0 THEN 'sleeping' ELSE 'waiting' END, '{}',
           'seeded', now() + CASE WHEN g %% 5 = 0 THEN -interval '1 minute' ELSE interval '1 day' END,
           now() - interval '1 minute'
    FROM generate_series(1, 4000) g
    RETURNING id, wake_at
)
SELECT count(baton_wake_run(id, wake_at)) FROM ins
"""


@pytest.fixture
def seeded_url(fresh_database):
    url = fresh_database("baton_sweep_plan")
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        owner = conn.execute(
            "INSERT INTO users (email) VALUES ('sweep@example.test') RETURNING id"
        ).fetchone()[0]
        conn.execute(SEED, {"owner": owner})
        conn.execute("ANALYZE")
    return url


def job_table_scanned_per_run(plan: dict) -> list[str]:
    """Where the plan reads the whole job table once per outer row: a Seq Scan of procrastinate_jobs
    on the inner side of a nested loop, or inside a correlated SubPlan."""
    found = []

    def scans_jobs(node: dict) -> bool:
        return (
            node.get("Node Type") == "Seq Scan"
            and node.get("Relation Name") == "procrastinate_jobs"
        ) or any(scans_jobs(child) for child in node.get("Plans", []))

    def walk(node: dict) -> None:
        children = node.get("Plans", [])
        if (
            node.get("Node Type") == "Nested Loop"
            and len(children) == 2
            and scans_jobs(children[1])
        ):
            found.append(
                f"nested loop ({node.get('Join Type')}) over a seq scan of procrastinate_jobs"
            )
        for child in children:
            if child.get("Parent Relationship") == "SubPlan" and scans_jobs(child):
                found.append(f"{child.get('Subplan Name')} scans procrastinate_jobs per row")
            walk(child)

    walk(plan)
    return found


def plan_of(url: str, query: str) -> dict:
    with psycopg.connect(url) as conn:
        [[explained]] = conn.execute(f"EXPLAIN (FORMAT JSON) {query}", {"grace_s": 10}).fetchall()
    return (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]


def test_the_orphan_run_query_checks_jobs_through_their_indexes(seeded_url):
    assert job_table_scanned_per_run(plan_of(seeded_url, QUADRATIC_ORPHAN_RUNS)), (
        "the check no longer recognises the quadratic plan"
    )
    assert job_table_scanned_per_run(plan_of(seeded_url, ORPHAN_RUNS)) == []


async def test_the_sweep_wakes_a_due_run_whose_job_was_lost_and_leaves_runs_with_jobs_alone(
    seeded_url,
):
    from app.core.db import open_pool

    pool = await open_pool(seeded_url, min_size=1, max_size=2)
    try:
        async with pool.connection() as conn:
            lost = await (
                await conn.execute(
                    "DELETE FROM procrastinate_jobs WHERE id IN (SELECT j.id FROM procrastinate_jobs j "
                    "JOIN runs r ON j.queueing_lock = 'run:' || r.id WHERE r.wake_at < now() LIMIT 3) "
                    "RETURNING queueing_lock"
                )
            ).fetchall()
            future = await (
                await conn.execute(
                    "DELETE FROM procrastinate_jobs WHERE id IN (SELECT j.id FROM procrastinate_jobs j "
                    "JOIN runs r ON j.queueing_lock = 'run:' || r.id WHERE r.wake_at > now() LIMIT 2) "
                    "RETURNING queueing_lock"
                )
            ).fetchall()
            assert await requeue_orphans(conn) == 3
            queued = await (
                await conn.execute(
                    "SELECT queueing_lock FROM procrastinate_jobs WHERE queueing_lock = ANY(%s) AND status = 'todo'",
                    ([row["queueing_lock"] for row in lost + future],),
                )
            ).fetchall()
            # A run due tomorrow needs its job tomorrow: the sweep on that day will find it.
            assert sorted(r["queueing_lock"] for r in queued) == sorted(
                r["queueing_lock"] for r in lost
            )
            assert await requeue_orphans(conn) == 0
    finally:
        await pool.close()
