"""Real chromium at a phone's size (360×740): every page fits the screen (no sideways scrolling),
the nav is reachable behind the Menu button, the chat list opens as a drawer, and a run card's
decision works — the chat, a run card, the approvals inbox and the dashboard."""

from __future__ import annotations

import re

import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.browser.accounts import sign_up_on
from tests.browser.test_dashboard_browser import start
from tests.integration.workflows.conftest import scripted_agents

PHONE = {"width": 360, "height": 740}
LIVE_MS = 20_000


@pytest.fixture
def phone(browser, live_server, database_url):
    from tests.support.fixtures import forget_ip_limits

    forget_ip_limits(database_url)
    # Not is_mobile: a mobile viewport zooms out to fit a too-wide page, which would hide the overflow.
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def sign_up_admin(page: Page, database_url: str) -> int:
    return sign_up_on(page, database_url, tier="enterprise", prefix="phone", admin=True)[1]


# The elements sticking out past the window's right edge (innermost first), to say what is too wide.
TOO_WIDE = """() => [...document.querySelectorAll("body *")]
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5 && el.checkVisibility())
  .filter((el) => ![...el.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 0.5))
  .slice(0, 5).map((el) => el.tagName.toLowerCase() + "." + [...el.classList].join(".") + " " + el.textContent.trim().slice(0, 40))"""


def assert_fits(page: Page) -> None:
    sizes = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert sizes[1] == PHONE["width"] and sizes[0] <= sizes[1], (
        f"{page.url} scrolls sideways: {sizes[0]} px wide in a {sizes[1]} px window; too wide: {page.evaluate(TOO_WIDE)}"
    )


def open_menu(page: Page) -> None:
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()  # folded away until asked for
    page.get_by_text("Menu", exact=True).click()
    expect(nav).to_be_visible()


def test_every_nav_item_is_reachable_and_each_page_fits_a_phone(phone: Page, database_url):
    page = phone
    user_id = sign_up_admin(page, database_url)
    start(database_url, user_id, "test-hook")  # something in the inbox and on the dashboard
    page.reload()
    assert_fits(page)

    for name, url, heading in (
        ("Workflows", "/workflows", "Workflows"),
        ("Approvals", "/approvals", "Approvals"),
        ("Admin", "/admin", None),
        ("Chat", "/chat", None),
    ):
        open_menu(page)
        link = page.get_by_role("navigation", name="Main").get_by_role(
            "link", name=re.compile(f"^{name}")
        )
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (
            f"{name} is off screen: {box}"
        )
        link.click()
        expect(page).to_have_url(re.compile(re.escape(url)))
        if heading:
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        assert_fits(page)

    for url in (
        "/settings/api-keys",
        "/settings/display",
        "/settings/connectors",
        "/account",
        "/notifications",
        "/admin/runs",
        "/admin/outbox",
        "/admin/prices",
        "/admin/tiers",
        "/chat/workflows",
    ):
        page.goto(url)
        assert_fits(page)

    # The bell stays on the bar; its menu fits the screen.
    page.locator(".bell-button").click()
    menu = page.locator(".bell-menu")
    expect(menu).to_be_visible()
    box = menu.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    page.locator(".bell-button").click()

    open_menu(page)
    page.get_by_role("button", name="Log out").click()
    for url in ("/login", "/signup"):
        page.goto(url)
        assert_fits(page)


def test_the_inbox_and_dashboard_become_cards_that_fit(phone: Page, database_url):
    page = phone
    user_id = sign_up_admin(page, database_url)
    run_id = start(database_url, user_id, "test-hook")
    with psycopg.connect(
        database_url, autocommit=True
    ) as conn:  # a long title must wrap, not widen the page
        conn.execute(
            "UPDATE runs SET title = %s WHERE id = %s",
            ("Quarterly-report-for-the-north-eastern-region-with-every-appendix-attached", run_id),
        )
    page.goto("/approvals")
    row = page.locator("#approval-rows tr").first
    expect(row).to_contain_text("approve it")
    expect(row.get_by_role("link", name="Review")).to_be_visible()
    assert_fits(page)

    page.goto("/workflows")
    row = page.locator(f"#run-{run_id}")
    expect(row).to_contain_text("Waiting for: approve it")
    assert_fits(page)
    row.get_by_role("link", name=re.compile("Quarterly")).click()
    expect(page.locator(".run-status-line")).to_contain_text("Waiting for: approve it")
    assert_fits(page)

    page.goto("/admin/users")
    expect(page.get_by_role("button", name="Change tier").first).to_be_visible()
    assert_fits(page)


def test_the_chat_list_is_a_drawer_and_a_run_card_decision_works_on_a_phone(
    phone: Page, model, database_url
):
    model.handler = scripted_agents
    page = phone
    sign_up_admin(page, database_url)
    page.get_by_label("Message").fill("hello from a phone")
    page.get_by_label("Message").press("Enter")
    expect(page).to_have_url(re.compile(r"/chat/\d+$"), timeout=LIVE_MS)
    expect(page.locator(".msg-assistant").first).to_be_visible(timeout=LIVE_MS)
    assert_fits(page)

    sidebar = page.get_by_role("complementary", name="Conversations")
    expect(sidebar).to_be_hidden()
    page.get_by_text("Chats", exact=True).click()
    expect(sidebar).to_be_visible()
    page.wait_for_function(
        "() => document.getElementById('chat-sidebar').getBoundingClientRect().left >= 0"
    )  # slid in
    box = sidebar.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    sidebar.get_by_role("link", name="New chat").click()
    expect(page).to_have_url(re.compile(r"/chat$"))
    expect(sidebar).to_be_hidden()

    page.get_by_role("link", name="Workflows", exact=True).last.click()
    picker = page.get_by_role("dialog", name="Start a workflow")
    picker.get_by_role("link", name=re.compile("Reviewed content")).click()
    form = page.get_by_role("form", name="Reviewed content")
    form.get_by_label("What should it be about?").fill("Foxes on phones")
    form.get_by_role("button", name="Start").click()
    card = page.locator(".run-card")
    expect(card).to_contain_text("Waiting for: review draft", timeout=LIVE_MS)
    assert_fits(page)
    approve = card.get_by_role("button", name="Approve")
    box = approve.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    approve.click()
    expect(card.locator(".run-status")).to_have_text("Completed", timeout=LIVE_MS)
    assert_fits(page)
