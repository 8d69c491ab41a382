"""The admin overview must not read every run of its period (issue 14: 2.3-2.9 s at 375,000 runs):
its queries' plans read finished runs from the rollup (sql/0133) and runs only through indexes
(the unfinished, the finished since the fold, a partial edge day), never a scan of `runs`."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.core.db import open_pool
from app.core.migrations import apply_migrations
from app.engine.analytics_fold import fold
from app.templates.stats import RUNS_PER_TEMPLATE
from app.web.analytics import store
from tests.integration.test_admin_analytics_rollup import LIVE_RUN_GROUPS
from tests.support.web import make_user

# A year of finished runs (a few an hour), the last hours' runs still open or finished since the fold.
SEED = """
INSERT INTO runs (owner_id, space_id, workflow, version, title, status, input, created_at,
                  completed_at, steps_done, cost_usd)
SELECT %(owner)s, %(space)s, 'wf-' || (g %% 7), 1, 'seeded',
       CASE WHEN g <= 200 THEN 'waiting' ELSE 'completed' END, '{}',
       now() - make_interval(mins => g * 13), CASE WHEN g > 200 THEN now() - make_interval(mins => g * 13 - 5) END,
       20, 0.01
FROM generate_series(1, 40000) g
"""


def runs_seq_scans(plan: dict) -> list[str]:
    found = []

    def walk(node: dict) -> None:
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == "runs":
            found.append(f"Seq Scan on runs ({node.get('Plan Rows')} rows estimated)")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return found


@pytest.fixture
async def seeded(fresh_database):
    url = fresh_database("baton_analytics_plan")
    apply_migrations(url)
    pool = await open_pool(url, max_size=2, name="analytics-plan")
    user = await make_user(pool, "plan@example.test", tier="enterprise")
    async with pool.connection() as conn:
        space = await (
            await conn.execute("SELECT id FROM spaces WHERE personal_of = %s", (user.id,))
        ).fetchone()
        await conn.execute(SEED, {"owner": user.id, "space": space["id"]})
        await fold(conn, fold_after="0 seconds", batches=10)
        # Runs finished since the fold: what the page reads live besides the unfinished ones.
        await conn.execute(
            "UPDATE runs SET status = 'completed', completed_at = now() WHERE id IN "
            "(SELECT id FROM runs WHERE status = 'waiting' LIMIT 20)"
        )
        await conn.execute("ANALYZE")
    yield pool
    await pool.close()


async def explain(conn, query: str, params: dict) -> dict:
    row = await (await conn.execute(f"EXPLAIN (FORMAT JSON) {query}", params)).fetchone()
    plan = row["QUERY PLAN"]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


async def test_the_overview_reads_no_period_of_runs_whole(seeded):
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date(), datetime.min.time(), UTC)
    periods = [store.Period.last_days(days, now) for days in (7, 30, 90, 365)]
    periods.append(store.Period(midnight - timedelta(days=40, hours=-9), now))
    async with seeded.connection() as conn:
        position = await (await conn.execute(store.ROLLUP_POSITION)).fetchone()
        for period in periods:
            params = period.rollup_params | position
            assert runs_seq_scans(await explain(conn, store.RUN_GROUPS, params)) == [], period
            assert runs_seq_scans(await explain(conn, RUNS_PER_TEMPLATE, period.params)) == [], (
                period
            )
        # The check catches the query it replaces.
        year = store.Period.last_days(365, now)
        assert runs_seq_scans(await explain(conn, LIVE_RUN_GROUPS, year.params))
