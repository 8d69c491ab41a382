"""Real chromium, issue 20: a viewer of a team, on the team's dashboard, sees a run a colleague
starts appear and finish live (the run's events reach every member following the team), can open
it, and is offered no action that would change it."""

import psycopg
from playwright.sync_api import Page, expect

from tests.browser.accounts import sign_up_on
from tests.browser.test_dashboard_browser import in_thread


def _team(database_url: str, owner_id: int, viewer_id: int) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        team = conn.execute(
            "INSERT INTO spaces (kind, name, slug, tier, created_by)"
            " VALUES ('team', 'Field Ops', 'field-ops-' || substr(md5(random()::text), 1, 8),"
            " 'enterprise', %s) RETURNING id",
            (owner_id,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO space_members (space_id, user_id, role) VALUES (%s, %s, 'owner'),"
            " (%s, %s, 'viewer')",
            (team, owner_id, team, viewer_id),
        )
        conn.execute("UPDATE sessions SET space_id = %s WHERE user_id = %s", (team, viewer_id))
    return team


def _start_in(database_url: str, user_id: int, space_id: int) -> str:
    async def go():
        from app.core.db import open_pool
        from app.engine.commands import start_run

        pool = await open_pool(database_url, min_size=1, max_size=1)
        try:
            async with pool.connection() as conn:
                run, _ = await start_run(
                    conn,
                    owner_id=user_id,
                    space_id=space_id,
                    workflow="selftest",
                    input={"steps": 6, "step_ms": 300},
                )
            return str(run.id)
        finally:
            await pool.close()

    return in_thread(go)


def test_a_viewer_sees_a_colleagues_team_run_appear_and_finish_live(page: Page, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        colleague = conn.execute(
            "INSERT INTO users (email, tier) VALUES ('colleague-' || md5(random()::text)"
            " || '@example.com', 'enterprise') RETURNING id, email"
        ).fetchone()
    _, viewer = sign_up_on(page, database_url, tier="free", prefix="viewer")
    team = _team(database_url, colleague[0], viewer)
    page.goto("/workflows")
    expect(page.get_by_text("The runs of team Field Ops")).to_be_visible()
    run_id = _start_in(database_url, colleague[0], team)
    row = page.locator(f"#run-{run_id}")
    expect(row).to_be_visible()  # appeared without a reload, started by someone else
    expect(row).to_contain_text(f"by {colleague[1]}")
    expect(row.locator(".run-status")).to_have_text("Completed", timeout=15_000)
    row.get_by_role("link").first.click()
    expect(page.locator(".run-space")).to_contain_text("In team Field Ops")
    expect(page.get_by_text("You are a viewer of Field Ops")).to_be_visible()
    expect(page.get_by_role("link", name="Rerun…")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
