"""Real chromium, real SMTP (aiosmtpd): an owner creates a team and invites a colleague; the
colleague signs up through the link read from the mail, lands in the team, finds it in the header's
switcher (keyboard too), switches away and back, and sees the team's run. The switcher fits a
phone's 360 px beside the Menu button and reads well in dark mode."""

from __future__ import annotations

import dataclasses
import email
import re
import secrets
import threading
import time
from email.policy import default as default_policy

import psycopg
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Page, expect

from app.core.config import Settings
from tests.browser.accounts import sign_up_on
from tests.browser.test_dashboard_browser import in_thread
from tests.browser.test_themes_browser import CONTRAST
from tests.support.fixtures import forget_ip_limits, make_test_llm
from tests.support.live_server import LiveServer, free_port
from tests.support.web import PASSWORD, new_email

LINK = re.compile(r"http://127\.0\.0\.1:\d+(/invitations/[A-Za-z0-9_-]+)")


class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 15.0) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [m for m in self.messages if m["To"].strip() == to]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {to}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def inbox():
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def live_server(model_settings: Settings, database_url: str, inbox):
    """Baton whose worker sends mail to the test SMTP server, with links to this server."""
    from app.web.app import create_app

    port = free_port()
    settings = dataclasses.replace(
        model_settings,
        smtp_url=f"smtp://127.0.0.1:{inbox.port}",
        base_url=f"http://127.0.0.1:{port}",
        mail_from="baton@baton.test",
    )
    app = create_app(settings, database_url, run_worker=True, llm=make_test_llm(settings))
    with LiveServer(app, port=port) as server:
        yield server


def start_team_run(database_url: str, owner_id: int, space_id: int, title: str) -> str:
    from app.core.db import open_pool
    from app.engine.commands import start_run

    async def go():
        pool = await open_pool(database_url, min_size=1, max_size=1)
        try:
            async with pool.connection() as conn:
                run, _ = await start_run(
                    conn,
                    owner_id=owner_id,
                    workflow="selftest",
                    input={"steps": 2, "step_ms": 10},
                    title=title,
                    space_id=space_id,
                )
            return str(run.id)
        finally:
            await pool.close()

    return in_thread(go)


def start_team_review(database_url: str, owner_id: int, space_id: int) -> str:
    """A run whose review waits for any member of the team (tests/integration/engine/workflows.py)."""
    from app.core.db import open_pool
    from app.engine.commands import start_run

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


def assert_fits(page: Page) -> None:
    sizes = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"{page.url} is {sizes[0]} px wide in {sizes[1]}"


def space_name_in_header(page: Page):
    return page.locator("#space-switcher .space-name")


def test_an_invited_colleague_signs_up_sees_the_teams_run_and_approves_its_review(
    page: Page, browser, live_server, database_url, inbox
):
    owner_email, owner_id = sign_up_on(page, database_url, tier="enterprise", prefix="owner")
    expect(space_name_in_header(page)).to_have_text("Personal")
    team_name = f"Research {secrets.token_hex(3)}"
    page.goto("/teams")
    page.get_by_label("Name").fill(team_name)
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("heading", name=team_name)).to_be_visible()
    slug = page.url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as conn:
        space_id = conn.execute("SELECT id FROM spaces WHERE slug = %s", (slug,)).fetchone()[0]
    run_title = f"Team report {secrets.token_hex(3)}"
    start_team_run(database_url, owner_id, space_id, run_title)

    colleague = new_email("colleague")
    page.get_by_label("E-mail").fill(colleague)
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".team-invitations")).to_contain_text(colleague)

    mail = inbox.wait_for(colleague)
    assert mail["Subject"] == f"Join {team_name} on Baton"
    path = LINK.search(mail.get_body(("plain",)).get_content()).group(1)

    context = browser.new_context(base_url=live_server.url, viewport={"width": 1200, "height": 800})
    context.set_default_timeout(10_000)
    theirs = context.new_page()
    try:
        theirs.goto(path)
        expect(theirs.get_by_role("heading", name=f"Join {team_name}")).to_be_visible()
        expect(theirs.get_by_label("Email")).to_have_value(colleague)
        theirs.get_by_label("Password").fill(PASSWORD)
        theirs.get_by_role("button", name="Sign up and join").click()
        expect(theirs).to_have_url(re.compile(rf"/teams/{slug}$"))
        expect(space_name_in_header(theirs)).to_have_text(team_name)
        expect(theirs.locator(".team-members")).to_contain_text(owner_email)
        # As an admin they see the team's usage: the owner's run counts.
        owner_usage = theirs.locator(".team-usage tbody tr", has_text=owner_email)
        expect(owner_usage.locator("td").nth(1)).to_have_text("1")

        # The switcher, by mouse: to the personal space (its dashboard), then back, by keyboard.
        theirs.locator("#space-switcher summary").click()
        menu = theirs.locator("#space-switcher .space-menu")
        expect(menu.get_by_role("button", name=re.compile(team_name))).to_be_visible()
        menu.get_by_role("button", name=re.compile("^Personal")).click()
        expect(theirs).to_have_url(re.compile(r"/workflows$"))
        expect(space_name_in_header(theirs)).to_have_text("Personal")

        theirs.locator("#space-switcher summary").focus()
        theirs.keyboard.press("Enter")
        team_button = theirs.locator("#space-switcher .space-menu").get_by_role(
            "button", name=re.compile(team_name)
        )
        expect(team_button).to_be_visible()
        theirs.keyboard.press("Escape")  # closes, the focus back on the switcher
        expect(team_button).to_be_hidden()
        expect(theirs.locator("#space-switcher summary")).to_be_focused()
        theirs.keyboard.press("Enter")
        expect(team_button).to_be_visible()
        theirs.keyboard.press("Tab")
        theirs.keyboard.press("Tab")  # personal first, then the team
        expect(team_button).to_be_focused()
        theirs.keyboard.press("Enter")
        expect(theirs).to_have_url(re.compile(r"/workflows$"))
        expect(space_name_in_header(theirs)).to_have_text(team_name)

        used = page.goto(path)  # the owner's browser: the link is spent
        assert used.status == 410
        expect(page.get_by_role("alert")).to_contain_text("already been used")

        # Switching lands on the space's dashboard: the team's runs.
        expect(theirs.get_by_text(run_title)).to_be_visible()

        # A review for "any member" of the team reaches the colleague's own inbox, live; they
        # approve it there.
        review_id = start_team_review(database_url, owner_id, space_id)
        theirs.goto("/approvals")
        row = theirs.locator("#approval-rows tr").filter(has_text="team review")
        expect(row).to_contain_text(f"For any member of {team_name}")
        row.get_by_role("link", name="Review").click()
        theirs.get_by_role("button", name="Approve").click()
        expect(theirs.locator(".review-state")).to_contain_text(f"approved by {colleague}")
    finally:
        context.close()

    # The owner, still in their personal space, follows a link to the run: Baton says it is the
    # team's and switches there to open it, and the timeline shows who approved.
    page.goto(f"/workflows/{review_id}")
    page.get_by_role("button", name=f"Switch to {team_name} and open it").click()
    expect(space_name_in_header(page)).to_have_text(team_name)
    expect(page.locator(".run-status-line")).to_contain_text("Completed", timeout=15_000)
    expect(page.locator(".wf-who")).to_contain_text(f"approved by {colleague}")


def test_the_switcher_fits_a_phone_beside_menu_and_reads_well_in_dark_mode(
    browser, live_server, database_url
):
    forget_ip_limits(database_url)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 360, "height": 740}, color_scheme="dark"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _, user_id = sign_up_on(page, database_url, tier="pro", prefix="phone")
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE users SET theme = 'dark' WHERE id = %s", (user_id,))
        page.goto("/teams")
        page.get_by_label("Name").fill("A team with a rather long name for a small phone")
        page.get_by_role("button", name="Create team").click()
        expect(page.get_by_role("heading", name=re.compile("^A team with"))).to_be_visible()
        page.get_by_label("E-mail").fill(new_email("phone-invite"))
        page.get_by_role("button", name="Send invitation").click()
        expect(page.locator(".team-invitations")).to_be_visible()
        assert_fits(page)  # the team page, its tables scrolling inside their boxes
        page.goto("/teams")
        page.locator(".space-list").get_by_role("button", name=re.compile("^A team with")).click()
        page.goto("/teams")
        switcher = page.locator("#space-switcher summary")
        expect(switcher).to_be_visible()
        expect(page.locator(".nav-toggle-button")).to_be_visible()  # the rest folds behind Menu
        expect(page.locator(".nav-main")).to_be_hidden()
        assert_fits(page)
        box, menu_box = switcher.bounding_box(), page.locator(".nav-toggle-button").bounding_box()
        assert box["x"] + box["width"] <= menu_box["x"], (box, menu_box)  # side by side, no overlap
        found = page.evaluate(CONTRAST, "#space-switcher .space-name")
        assert found["ratio"] >= 4.5, found
        switcher.click()
        menu = page.locator("#space-switcher .space-menu")
        expect(menu.get_by_role("button", name=re.compile("^Personal"))).to_be_visible()
        menu_sizes = menu.bounding_box()
        assert menu_sizes["x"] >= 0 and menu_sizes["x"] + menu_sizes["width"] <= 360, menu_sizes
        found = page.evaluate(CONTRAST, "#space-switcher .space-choice-name")
        assert found["ratio"] >= 4.5, found
        # Menu still opens the folded nav.
        page.locator(".nav-toggle-button").click()
        expect(page.locator(".nav-main")).to_be_visible()
    finally:
        context.close()
