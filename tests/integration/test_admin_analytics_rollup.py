"""Admin analytics from the rollup of finished runs (sql/0133, app/engine/analytics_fold.py) give
the figures of the query that read every run of the period, for whole-day and mid-day periods,
before and after folding, through a retry of a folded run, runs finishing after a fold, a
cancellation and a deleted user; and the /admin page renders the same as with that query."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from app.core.db import open_pool
from app.core.migrations import apply_migrations
from app.engine import analytics_fold
from app.engine.advance import finish_run
from app.engine.commands import retry_run
from app.web.analytics import store
from tests.support.fixtures import make_test_llm
from tests.support.web import log_in, make_user, new_email

# The query before the rollup (issue 14), kept as the reference: one read of every run of the period.
LIVE_RUN_GROUPS = """
SELECT GROUPING(day, workflow, owner_id) AS g, day, workflow, owner_id,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       coalesce(sum(steps_done), 0) AS steps,
       coalesce(sum(steps_failed), 0) AS steps_failed,
       coalesce(sum(cost_usd), 0) AS cost_usd,
       coalesce(sum(tokens_in + tokens_out), 0) AS tokens
FROM (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, workflow, owner_id, status, steps_done, steps_failed,
             cost_usd, tokens_in, tokens_out
      FROM runs WHERE created_at >= %(start)s AND created_at < %(end)s) AS r
GROUP BY GROUPING SETS ((), (day), (workflow), (owner_id))
"""
TOTAL, BY_DAY, BY_WORKFLOW, BY_OWNER = 7, 3, 5, 6


async def live_analytics(conn, period: store.Period) -> dict:
    """What the page showed before the rollup, from LIVE_RUN_GROUPS (the old store code)."""
    groups = await (await conn.execute(LIVE_RUN_GROUPS, period.params)).fetchall()
    hooks = await (await conn.execute(store.HOOKS, period.params)).fetchone()
    total = next(g for g in groups if g["g"] == TOTAL)
    by_day = {g["day"]: g["runs"] for g in groups if g["g"] == BY_DAY}
    owners = sorted(
        (g for g in groups if g["g"] == BY_OWNER),
        key=lambda g: (g["cost_usd"], g["runs"]),
        reverse=True,
    )[:10]
    emails = {
        r["id"]: r["email"]
        for r in await (
            await conn.execute(store.EMAILS, {"ids": [o["owner_id"] for o in owners]})
        ).fetchall()
    }
    finished = total["completed"] + total["failed"] + total["cancelled"]
    all_steps = total["steps"] + total["steps_failed"]
    days = (period.end.date() - period.start.date()).days
    summary = {k: total[k] for k in ("runs", "completed", "failed", "cancelled", "steps")}
    summary |= {k: total[k] for k in ("steps_failed", "cost_usd", "tokens")}
    return {
        "summary": summary
        | {
            "started": total["runs"],
            "active_users": sum(1 for g in groups if g["g"] == BY_OWNER),
            "avg_steps": total["steps"] / total["runs"] if total["runs"] else 0,
        },
        "completion_rate": total["completed"] / finished if finished else None,
        "step_failure_rate": total["steps_failed"] / all_steps if all_steps else None,
        "median_hook_s": hooks["median_s"],
        "approvals_within_24h": hooks["within_24h"] / hooks["answerable"]
        if hooks["answerable"]
        else None,
        "per_day": [
            {"day": d, "runs": by_day.get(d, 0)}
            for d in (period.start.date() + timedelta(days=i) for i in range(days))
        ],
        "top_workflows": sorted(
            (
                {"workflow": g["workflow"], "runs": g["runs"], "completed": g["completed"]}
                for g in groups
                if g["g"] == BY_WORKFLOW
            ),
            key=lambda w: -w["runs"],
        )[:10],
        "top_users": [
            {
                "email": emails.get(o["owner_id"], "?"),
                "runs": o["runs"],
                "cost_usd": o["cost_usd"],
                "tokens": o["tokens"],
            }
            for o in owners
        ],
    }


def comparable(stats: dict) -> dict:
    summary = {
        k: stats["summary"][k]
        for k in (
            "runs",
            "completed",
            "failed",
            "cancelled",
            "steps",
            "steps_failed",
            "cost_usd",
            "tokens",
            "started",
            "active_users",
            "avg_steps",
        )
    }
    # Workflows of equal counts come in either order (the page's order among them is arbitrary).
    workflows = sorted(stats["top_workflows"], key=lambda w: (-w["runs"], w["workflow"]))
    return stats | {"summary": summary, "top_workflows": workflows}


def periods(now: datetime) -> dict[str, store.Period]:
    midnight = datetime.combine(now.date(), datetime.min.time(), UTC)
    return {
        "7 days": store.Period.last_days(7, now),
        "30 days": store.Period.last_days(30, now),
        "365 days": store.Period.last_days(365, now),
        "mid-day to mid-day": store.Period(
            midnight - timedelta(days=9, hours=-10, minutes=-30), midnight - timedelta(hours=10)
        ),
        "mid-day to now": store.Period(midnight - timedelta(days=3, hours=-13), now),
        "within one day": store.Period(
            midnight - timedelta(days=2, hours=-2), midnight - timedelta(days=2, hours=-20)
        ),
        "whole days, not the last": store.Period(
            midnight - timedelta(days=20), midnight - timedelta(days=2)
        ),
    }


# Runs over 40 days and one older, 3 workflows, 4 owners, created at hours that fall inside and
# outside the mid-day edges; all figures distinct per owner so the top users have no ties.
SEED = """
INSERT INTO runs (owner_id, space_id, workflow, version, title, status, input, created_at,
                  completed_at, steps_done, steps_failed, cost_usd, tokens_in, tokens_out)
SELECT o.id, s.id, CASE WHEN g %% 6 < 3 THEN 'wf-0' WHEN g %% 6 < 5 THEN 'wf-1' ELSE 'wf-2' END, 1, 'seeded', st.status, '{}', c.created_at,
       CASE WHEN st.status IN ('completed', 'failed', 'cancelled')
            THEN least(c.created_at + interval '7 minutes', now() - interval '1 second') END,
       g %% 20, g %% 3, (g * o.n) * 0.001 + o.n * 0.0001, g * 10 + o.n, g
FROM generate_series(1, 330) g
CROSS JOIN LATERAL (SELECT CASE WHEN g = 330 THEN 400 ELSE g %% 41 END AS days_ago,
                           (g * 7) %% 24 AS hour) d
CROSS JOIN LATERAL (SELECT least(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                                 - make_interval(days => d.days_ago, hours => -d.hour, mins => -(g %% 60)),
                                 now() - interval '2 seconds') AS created_at) c
CROSS JOIN LATERAL (SELECT (ARRAY['completed', 'completed', 'failed', 'cancelled', 'completed',
                                  'running', 'waiting', 'completed'])[1 + g %% 8] AS status) st
JOIN (SELECT u.id, row_number() OVER (ORDER BY u.id) AS n FROM users u
      WHERE u.email LIKE 'seeded%%') o ON o.n = 1 + g %% 4
JOIN spaces s ON s.personal_of = o.id
"""


@pytest.fixture
async def fresh(fresh_database):
    url = fresh_database("baton_analytics_rollup")
    apply_migrations(url)
    pool = await open_pool(url, max_size=4, name="analytics-rollup")
    yield url, pool
    await pool.close()


async def assert_same_figures(conn, now: datetime, when: str) -> None:
    for name, period in periods(now).items():
        expected = comparable(await live_analytics(conn, period))
        got = comparable(await store.analytics(conn, period))
        assert got == expected, f"{name}, {when}"


async def test_rollup_gives_the_live_figures_through_folds_retries_and_finishes(fresh, monkeypatch):
    url, pool = fresh
    for i in range(4):
        await make_user(pool, f"seeded{i}@example.test", tier="enterprise")
    now = datetime.now(UTC)
    async with pool.connection() as conn:
        await conn.execute(SEED, {})
        counts = await (
            await conn.execute(
                "SELECT count(*) FILTER (WHERE completed_at IS NULL) AS open, count(*) AS n FROM runs"
            )
        ).fetchone()
        assert counts["open"] > 0 and counts["n"] == 330
        await assert_same_figures(conn, now, "before any fold")

        # Part of the backlog only (the keyset stops in the middle of a day's runs).
        monkeypatch.setattr(analytics_fold, "BATCH", 37)
        assert await analytics_fold.fold(conn, fold_after="0 seconds", batches=2) == 74
        await assert_same_figures(conn, now, "after a partial fold")
        # Finish times moved back past the fold's position (what bench/load.py does to its seed).
        await conn.execute(
            "UPDATE runs SET completed_at = completed_at - interval '2 minutes' "
            "WHERE completed_at IS NOT NULL"
        )
        await assert_same_figures(conn, now, "after moving finish times back")
        monkeypatch.undo()
        assert await analytics_fold.fold(conn, fold_after="0 seconds") > 0
        assert await analytics_fold.fold(conn, fold_after="0 seconds") == 0
        folded = await (await conn.execute("SELECT sum(runs) AS n FROM analytics_days")).fetchone()
        assert folded["n"] == counts["n"] - counts["open"]
        await assert_same_figures(conn, now, "after folding everything")

        # A folded failed run retried: out of the fold, counted once, live, as queued.
        failed = await (
            await conn.execute(
                "SELECT id, owner_id FROM runs WHERE status = 'failed' "
                "AND created_at < now() - interval '3 days' ORDER BY created_at DESC LIMIT 1"
            )
        ).fetchone()
        await retry_run(conn, failed["id"], owner_id=failed["owner_id"])
        await assert_same_figures(conn, now, "after retrying a folded failed run")
        # It and a run that was running at the fold finish now, after the fold's position.
        await conn.execute(
            "UPDATE runs SET steps_done = steps_done + 5, cost_usd = cost_usd + 1.5 WHERE id = %s",
            (failed["id"],),
        )
        await finish_run(conn, failed["id"], "completed", output={"ok": True})
        running = await (
            await conn.execute("SELECT id FROM runs WHERE status = 'running' LIMIT 1")
        ).fetchone()
        await finish_run(conn, running["id"], "completed", output={"ok": True})
        waiting = await (
            await conn.execute("SELECT id FROM runs WHERE status = 'waiting' LIMIT 1")
        ).fetchone()
        await finish_run(conn, waiting["id"], "cancelled", error={"message": "cancelled"})
        await assert_same_figures(conn, now, "after runs finished past the fold")
        assert await analytics_fold.fold(conn, fold_after="0 seconds") == 3
        await assert_same_figures(conn, now, "after folding them")

        # A user deleted with their runs leaves the fold with them.
        await conn.execute("DELETE FROM users WHERE email = 'seeded3@example.test'")
        await assert_same_figures(conn, now, "after deleting a user")
        left = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM analytics_days WHERE runs <= 0) "
                "+ (SELECT count(*) FROM analytics_owner_days WHERE runs <= 0) AS n"
            )
        ).fetchone()
        assert left["n"] == 0


async def test_admin_page_renders_the_same_as_with_the_live_query(
    fresh, monkeypatch, model_settings, model
):
    from app.web.app import create_app

    url, pool = fresh
    for i in range(4):
        await make_user(pool, f"seeded{i}@example.test", tier="enterprise")
    admin = await make_user(pool, new_email("admin"), is_admin=True, tier="enterprise")
    async with pool.connection() as conn:
        await conn.execute(SEED, {})
        await analytics_fold.fold(conn, fold_after="0 seconds")
    app = create_app(model_settings, url, run_worker=False, llm=make_test_llm(model_settings))
    async with AsyncTestClient(app) as client:
        client.follow_redirects = False
        assert (await log_in(client, admin.email)).status_code == 303
        for days in (7, 30, 365):
            rollup_page = (await client.get(f"/admin?days={days}")).text
            with monkeypatch.context() as patched:
                patched.setattr(store, "analytics", live_analytics)
                live_page = (await client.get(f"/admin?days={days}")).text
            volatile = re.compile(r'(nonce|value|content)="[^"]*"')
            assert volatile.sub("", rollup_page) == volatile.sub("", live_page), days
            assert "seeded1@example.test" in rollup_page
