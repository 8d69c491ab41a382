"""Real chromium: a review assigned to "any member" of a team reaches a member's own /approvals
inbox live (the run is not theirs and not in the space they are working in), they approve it
there, and the run's owner sees on the run page who approved it."""

import psycopg
from playwright.sync_api import Browser, Page, expect

from app.core.db import open_pool
from app.engine.commands import start_run
from tests.browser.accounts import sign_up_on
from tests.browser.test_dashboard_browser import in_thread


def make_team(database_url: str, owner_id: int, member_id: int) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        space_id = conn.execute(
            "INSERT INTO spaces (kind, name, slug, tier, created_by) "
            "VALUES ('team', 'Browsers', 'browsers-' || substr(md5(random()::text), 1, 8), "
            "'enterprise', %s) RETURNING id",
            (owner_id,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO space_members (space_id, user_id, role) VALUES (%s, %s, 'owner'), "
            "(%s, %s, 'member')",
            (space_id, owner_id, space_id, member_id),
        )
        # The owner works in the team (what the header's switcher records for a session).
        conn.execute("UPDATE sessions SET space_id = %s WHERE user_id = %s", (space_id, owner_id))
    return space_id


def start_team_review(database_url: str, owner_id: int, space_id: int) -> str:
    async def go():
        pool = await open_pool(database_url, min_size=1, max_size=1)
        try:
            async with pool.connection() as conn:
                run, _ = await start_run(
                    conn,
                    owner_id=owner_id,
                    workflow="test-team-review",
                    input={"assign_role": "member"},
                    space_id=space_id,
                )
            return str(run.id)
        finally:
            await pool.close()

    return in_thread(go)


def test_a_member_approves_a_review_for_any_member_and_the_owner_sees_who(
    page: Page, browser: Browser, live_server, database_url
):
    _, owner_id = sign_up_on(page, database_url, tier="enterprise", prefix="owner")
    member_context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1200, "height": 800}
    )
    member_context.set_default_timeout(10_000)
    member = member_context.new_page()
    try:
        member_email, member_id = sign_up_on(member, database_url, tier="free", prefix="member")
        space_id = make_team(database_url, owner_id, member_id)
        member.goto("/approvals")
        expect(member.get_by_text("Nothing is waiting for you.")).to_be_visible()

        run_id = start_team_review(database_url, owner_id, space_id)
        row = member.locator("#approval-rows tr").filter(has_text="team review")
        expect(row).to_be_visible()  # arrived live, without a reload
        expect(row).to_contain_text("For any member of Browsers")
        expect(member.locator("#approvals-badge")).to_have_text("1")
        row.get_by_role("link", name="Review").click()
        expect(member.get_by_role("heading", name="Approve the plan")).to_be_visible()
        member.get_by_role("button", name="Approve").click()
        expect(member.locator(".review-state")).to_contain_text(f"approved by {member_email}")
    finally:
        member_context.close()

    page.goto(f"/workflows/{run_id}")
    expect(page.locator(".run-status-line")).to_contain_text("Completed", timeout=15_000)
    expect(page.locator(".wf-who")).to_contain_text(f"approved by {member_email}")
