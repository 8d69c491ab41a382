"""Real chromium: a slow answer to something the person did shows a busy bar under the top bar
(after a moment, so that quick answers do not flicker), gone once the answer is in; the page's own
live updates never show it."""

from __future__ import annotations

from playwright.sync_api import Page, Route, expect

from tests.browser.test_dashboard_browser import sign_up_enterprise

# The bar is the top bar's ::after: running once its animation has started, idle without one.
BAR = "getComputedStyle(document.querySelector('.topbar'), '::after')"
BUSY = f"() => {BAR}.animationName === 'baton-busy' && {BAR}.opacity === '1'"
IDLE = f"() => {BAR}.animationName === 'none'"


def test_a_slow_page_shows_a_busy_bar_until_it_arrives(page: Page, database_url):
    sign_up_enterprise(page, database_url)
    page.goto("/settings/display")
    page.wait_for_function(IDLE)  # the page's own live parts loaded without it

    held: list[Route] = []
    page.route("**/workflows", lambda route: held.append(route))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows").click()
    page.wait_for_function(BUSY)  # the answer is held back: the bar runs
    held[0].continue_()
    expect(page.get_by_role("heading", name="Workflows", exact=True)).to_be_visible()
    page.wait_for_function(IDLE)
