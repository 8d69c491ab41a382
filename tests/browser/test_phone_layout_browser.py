"""Real chromium at a phone's size (360×740): every page fits the screen (no sideways scrolling)
and its text meets WCAG AA contrast, in the light and the dark theme; every <time> carries its
machine-readable moment and no page shows a raw ISO timestamp. The nav is reachable behind the
Menu button, the chat list opens as a drawer, and a run card's decision works — the chat, a run
card, the approvals inbox and the dashboard."""

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


# Every piece of visible text whose contrast with the background behind it is below WCAG AA: 4.5:1,
# or 3:1 for large text (24 px, or 18.66 px bold). Backgrounds are composed through the translucent
# layers behind the text, and the text's own and its ancestors' opacity are applied.
LOW_CONTRAST = """() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const over = (top, alpha, under) => top.map((v, i) => v * alpha + under[i] * (1 - alpha));
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      const alpha = c.length === 4 ? c[3] : 1;
      if (alpha > 0) layers.push([c.slice(0, 3), alpha]);
      if (alpha >= 0.99) break;
    }
    let bg = layers.length && layers[layers.length - 1][1] >= 0.99 ? layers.pop()[0] : [255, 255, 255];
    for (const [c, alpha] of layers.reverse()) bg = over(c, alpha, bg);
    return bg;
  };
  const found = [];
  for (const el of document.querySelectorAll("body *")) {
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    if (!el.checkVisibility({ visibilityProperty: true }) || el.closest(".visually-hidden, [disabled], svg")) continue;
    const style = getComputedStyle(el);
    let opacity = 1;
    for (let node = el; node; node = node.parentElement) opacity *= Number(getComputedStyle(node).opacity);
    const fg = parse(style.color);
    const bg = background(el);
    const shown = over(fg.slice(0, 3), opacity * (fg.length === 4 ? fg[3] : 1), bg);
    const [hi, lo] = [lum(shown), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      found.push(`${ratio.toFixed(2)}: ${el.tagName.toLowerCase()}.${[...el.classList].join(".")} "${el.textContent.trim().slice(0, 30)}" (${style.color} on rgb(${bg.map(Math.round)}))`);
    }
  }
  return found.slice(0, 8);
}"""

# Times a reader cannot read: <time> without its moment, and ISO timestamps in the visible text
# (not in text people or a template wrote, marked data-user-text, such as a mail's subject).
UNREADABLE_TIMES = """() => {
  const found = [...document.querySelectorAll("time:not([datetime])")].map((t) => "<time> without datetime: " + t.textContent.trim());
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode());) {
    const el = node.parentElement;
    if (!el.checkVisibility() || el.closest("textarea, pre, code, input, select, [data-user-text]")) continue;
    const iso = node.textContent.match(/\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d/);
    if (iso) found.push("raw timestamp: " + node.textContent.trim().slice(0, 60));
  }
  return found.slice(0, 5);
}"""


def assert_readable(page: Page, scheme: str) -> None:
    low = page.evaluate(LOW_CONTRAST)
    assert not low, f"{page.url} ({scheme}) has text below WCAG AA contrast: {low}"
    times = page.evaluate(UNREADABLE_TIMES)
    assert not times, f"{page.url} ({scheme}): {times}"


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


# The pages a person uses every day, signed in (ids filled in by the test), then signed out.
PAGES = (
    "/chat",
    "{chat}",
    "/chat/workflows",
    "/workflows",
    "/workflows/{run}",
    "/workflows/{done}",
    "/approvals",
    "{review}",
    "/templates",
    "/templates?tab=gallery",
    "/templates/new",
    "/schedules",
    "/schedules/new",
    "/triggers",
    "/triggers/new",
    "/settings/notifications",
    "/settings/display",
    "/settings/api-keys",
    "/settings/connectors",
    "/account",
    "/notifications",
    "/help",
    "/help/getting-started",
    "/teams",
    "/audit",
    "/admin",
    "/admin/users",
    "/admin/runs",
    "/admin/setup",
    "/admin/outbox",
    "/admin/prices",
    "/admin/tiers",
)
SIGNED_OUT = ("/login", "/signup", "/help")


def test_the_main_pages_fit_and_are_readable_at_360_px_in_light_and_dark(
    phone: Page, model, database_url
):
    model.handler = scripted_agents
    page = phone
    user_id = sign_up_admin(page, database_url)
    page.get_by_label("Message").fill("A question from the bus")
    page.get_by_label("Message").press("Enter")
    expect(page).to_have_url(re.compile(r"/chat/\d+$"), timeout=LIVE_MS)
    expect(page.locator(".msg-assistant").first).to_be_visible(timeout=LIVE_MS)
    ids = {"chat": page.url.removeprefix(page.url.split("/chat")[0])}
    ids["run"] = start(database_url, user_id, "test-hook")
    ids["done"] = start(database_url, user_id, "selftest", steps=2, step_ms=10)
    page.goto("/approvals")
    review = page.locator("#approval-rows").get_by_role("link", name="Review")
    expect(review).to_be_visible(timeout=LIVE_MS)
    ids["review"] = review.get_attribute("href")
    # The run's title lines up under its workflow's name, not pushed right beside it.
    workflow_left, title_left = page.locator("#approval-rows td").first.evaluate(
        """(td) => { const title = document.createRange(); title.selectNode(td.lastChild);
                     return [td.firstElementChild.getBoundingClientRect().left, title.getBoundingClientRect().left]; }"""
    )
    assert abs(workflow_left - title_left) < 1, (workflow_left, title_left)
    page.goto(f"/workflows/{ids['done']}")
    expect(page.locator(".run-status-line")).to_contain_text("Completed", timeout=LIVE_MS)

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for url in PAGES:
            page.goto(url.format(**ids))
            assert_fits(page)
            assert_readable(page, scheme)
    open_menu(page)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for url in SIGNED_OUT:
            page.goto(url)
            assert_fits(page)
            assert_readable(page, scheme)


def test_a_help_page_opens_with_its_text_on_a_phone(phone: Page):
    page = phone
    page.goto("/help/getting-started")
    expect(page.get_by_role("search").get_by_role("searchbox")).to_be_in_viewport()
    expect(page.get_by_role("heading", name="Getting started", level=1)).to_be_in_viewport()
    # The list of every help page comes after the page, not as 25 links before it.
    expect(page.get_by_role("navigation", name="Help pages")).not_to_be_in_viewport()
    assert_fits(page)
