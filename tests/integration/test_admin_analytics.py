"""Admin overview: analytics over a period, the SVG chart, the cost projection, all runs, prices."""

from datetime import date
from decimal import Decimal

import pytest

from app.web.analytics.store import project_month
from tests.support.engine import start, wait_status
from tests.support.web import csrf_of, log_in, make_user, new_email


@pytest.fixture
async def admin(app_client, pool):
    user = await make_user(pool, new_email("admin"), is_admin=True, tier="enterprise")
    assert (await log_in(app_client, user.email)).status_code == 303
    return user


async def test_overview_shows_the_periods_figures_and_a_chart(app_client, admin, pool, worker):
    owner = await make_user(pool, new_email("spender"), tier="enterprise")
    # Five priced runs make this the top spender of the shared test database.
    priced = [await start(pool, owner.id, "test-usage") for _ in range(5)]
    failed = await start(pool, owner.id, "test-errors", mode="fatal")
    for done in priced:
        await wait_status(pool, done["id"], "completed")
    await wait_status(pool, failed["id"], "failed")
    page = await app_client.get("/admin?days=7")
    assert page.status_code == 200
    html = page.text
    for label in ("Runs started", "Completion rate", "Step failure rate", "Avg steps per run",
                  "Median approval time", "Approvals within 24 h", "Active workflow users", "Top workflows",
                  "Top users by cost", "Projected platform cost"):
        assert label in html
    assert "<svg" in html and 'class="bar"' in html
    assert owner.email in html  # the top spender (gpt-4o step)
    assert "test-usage" in html


async def test_admin_pages_are_for_admins_only(app_client, pool):
    user = await make_user(pool, new_email("plain"))
    await log_in(app_client, user.email)
    for path in ("/admin", "/admin/runs", "/admin/prices"):
        assert (await app_client.get(path)).status_code == 403


async def test_all_runs_filter_by_user_status_and_workflow(app_client, admin, pool, worker):
    owner = await make_user(pool, new_email("filtered"), tier="enterprise")
    run = await start(pool, owner.id, "test-errors", mode="fatal")
    await wait_status(pool, run["id"], "failed")
    page = await app_client.get(f"/admin/runs?user={owner.email}&status=failed&workflow=test-errors")
    assert str(run["id"]) in page.text
    assert str(run["id"]) not in (await app_client.get(f"/admin/runs?user={owner.email}&status=completed")).text


async def test_prices_are_edited_with_validation(app_client, admin, pool):
    page = await app_client.get("/admin/prices")
    csrf = csrf_of(page.text)
    bad = await app_client.post("/admin/prices", data={"model": "my model!", "input_per_1k": "-1", "output_per_1k": "x",
                                                       "_csrf_token": csrf})
    assert bad.status_code == 422 and "aria-invalid" in bad.text and 'value="my model!"' in bad.text
    ok = await app_client.post("/admin/prices", data={"model": "llama3:8b", "input_per_1k": "0.0001",
                                                      "output_per_1k": "0.0002", "_csrf_token": csrf})
    assert ok.status_code == 303
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT * FROM model_prices WHERE model = 'llama3:8b'")).fetchone()
    assert row["input_per_1k"] == Decimal("0.0001") and row["output_per_1k"] == Decimal("0.0002")


def test_projection_bills_steps_beyond_a_million_and_storage_beyond_ten_gb():
    # Day 10 of a 30-day month with 600k steps -> 1.8M projected, 800k billable -> $480.
    p = project_month(600_000, 12 * 1024**3, date(2026, 11, 10))
    assert p["projected_steps"] == 1_800_000 and p["billable_steps"] == 800_000
    assert p["steps_cost"] == Decimal("480.00") and p["storage_cost"] == Decimal("0.20")
    assert p["total"] == Decimal("480.20")
    quiet = project_month(1000, 1024**3, date(2026, 11, 30))
    assert quiet["total"] == Decimal("0.00")
