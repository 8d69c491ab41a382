"""Admin overview: analytics over a period, the SVG chart, all runs, prices (the cost projection:
tests/unit/test_admin_projection.py)."""

from decimal import Decimal

import pytest

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
        await wait_status(pool, done.id, "completed")
    await wait_status(pool, failed.id, "failed")
    page = await app_client.get("/admin?days=7")
    assert page.status_code == 200
    html = page.text
    for label in (
        "Runs started",
        "Completion rate",
        "Step failure rate",
        "Avg steps per run",
        "Median approval time",
        "Approvals within 24 h",
        "Active workflow users",
        "Top workflows",
        "Top users by cost",
        "Projected platform cost",
    ):
        assert label in html
    assert "<svg" in html and 'class="bar"' in html
    assert owner.email in html  # the top spender (gpt-4o step)
    # Top workflows: the most-run workflow of the period is listed (the shared test database holds
    # every earlier test's runs, so this test's five need not be among the top ten).
    async with pool.connection() as conn:
        top = (
            await (
                await conn.execute(
                    "SELECT workflow FROM runs WHERE created_at > now() - interval '1 day' "
                    "GROUP BY workflow ORDER BY count(*) DESC LIMIT 1"
                )
            ).fetchone()
        )["workflow"]
    assert f">{top}</a>" in html


async def test_admin_pages_are_for_admins_only(app_client, pool):
    user = await make_user(pool, new_email("plain"))
    await log_in(app_client, user.email)
    for path in ("/admin", "/admin/runs", "/admin/prices"):
        assert (await app_client.get(path)).status_code == 403


async def test_all_runs_filter_by_user_status_and_workflow(app_client, admin, pool, worker):
    owner = await make_user(pool, new_email("filtered"), tier="enterprise")
    run = await start(pool, owner.id, "test-errors", mode="fatal")
    await wait_status(pool, run.id, "failed")
    page = await app_client.get(
        f"/admin/runs?user={owner.email}&status=failed&workflow=test-errors"
    )
    assert str(run.id) in page.text
    assert (
        str(run.id)
        not in (await app_client.get(f"/admin/runs?user={owner.email}&status=completed")).text
    )


async def test_prices_are_edited_with_validation(app_client, admin, pool):
    page = await app_client.get("/admin/prices")
    csrf = csrf_of(page.text)
    bad = await app_client.post(
        "/admin/prices",
        data={
            "model": "my model!",
            "input_per_1k": "-1",
            "output_per_1k": "x",
            "_csrf_token": csrf,
        },
    )
    assert bad.status_code == 422 and "aria-invalid" in bad.text and 'value="my model!"' in bad.text
    ok = await app_client.post(
        "/admin/prices",
        data={
            "model": "llama3:8b",
            "input_per_1k": "0.0001",
            "output_per_1k": "0.0002",
            "_csrf_token": csrf,
        },
    )
    assert ok.status_code == 303
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT * FROM model_prices WHERE model = 'llama3:8b'")
        ).fetchone()
    assert row["input_per_1k"] == Decimal("0.0001") and row["output_per_1k"] == Decimal("0.0002")


async def test_money_reads_the_same_on_every_admin_page(app_client, admin, pool, worker):
    import re

    from app.web.template_filters import money

    owner = await make_user(pool, new_email("cents"), tier="enterprise")
    run = await start(pool, owner.id, "test-usage")
    await wait_status(pool, run.id, "completed")
    async with pool.connection() as conn:
        cost = (
            await (
                await conn.execute(
                    "SELECT sum(cost_usd) AS c FROM run_steps WHERE run_id = %s", (run.id,)
                )
            ).fetchone()
        )["c"]
    assert (
        money(cost) == "$0.0150"
        and money(Decimal("0.0001")) == "$0.0001"
        and money(Decimal("1234.5")) == "$1,234.50"
    )
    overview = (await app_client.get("/admin?days=7")).text
    runs = (await app_client.get(f"/admin/runs?user={owner.email}")).text
    assert (
        "$0.0150" in runs
        and f"{owner.email}</a></td><td>1</td><td>3000</td><td>$0.0150<" in overview
    )
    total = re.search(r'Model cost</span><span class="stat-value">([^<]+)<', overview).group(1)
    amount = Decimal(total.lstrip("$").replace(",", ""))
    assert total == money(
        amount
    )  # the card's figure in the same format as the rows (was "$0.08" beside "$0.0150")


async def test_overview_counts_template_runs_and_the_share_of_users_who_share(
    app_client, admin, pool, worker
):
    from app.templates import store
    from app.templates.format import parse
    from app.templates.start import TemplateChoice, start_template_run
    from tests.integration.templates.test_template_runs import REPORT

    author = await make_user(pool, new_email("author"), tier="enterprise")
    reuser = await make_user(pool, new_email("reuser"), tier="enterprise")
    async with pool.connection() as conn:
        tpl = await store.create_template(
            conn, owner_id=author.id, document=REPORT, slug="shared-report"
        )
        await store.set_visibility(
            conn, user_id=author.id, template_id=tpl["id"], visibility="gallery"
        )
        for who in (
            author.id,
            reuser.id,
        ):  # the gallery's template, run by its author and by someone else
            await start_template_run(conn, user_id=who, slug="shared-report", input={"topic": "t"})
        # The builder's test run of a draft is shown apart, not counted as a run of the template.
        draft = TemplateChoice(tpl["id"], None, "shared-report", parse(REPORT), draft=REPORT)
        await start_template_run(conn, user_id=author.id, template=draft, input={"topic": "t"})
        users = (
            await (
                await conn.execute("SELECT count(*) AS n FROM users WHERE disabled_at IS NULL")
            ).fetchone()
        )["n"]
    page = (await app_client.get("/admin?days=7")).text
    assert "Workflow templates" in page
    row = page[page.index("(shared-report)") :][:200]
    assert "<td>2</td><td>0</td><td>1</td>" in row  # runs, completed, test runs
    assert "Test runs" in page
    assert (
        f"/ {users}</span>" in page
    )  # at least the author and the re-user share; exact count varies with the suite
