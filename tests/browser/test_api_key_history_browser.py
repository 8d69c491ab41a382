"""Real chromium: a new API key is shown once. After creating one, leaving the page through a link
and coming back with the browser's Back button shows the keys page without the key, and htmx's
history cache (sessionStorage) never holds it: the card carrying it has hx-history="false"."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.accounts import sign_up_on


def test_a_new_key_does_not_come_back_through_the_history(page: Page, database_url):
    sign_up_on(page, database_url, tier="free", prefix="keys")
    page.goto("/settings/api-keys")
    page.get_by_label("Name").fill("CI pipeline")
    page.get_by_role("button", name="Create key").click()
    new_key = page.get_by_label("New API key")
    expect(new_key).to_be_visible()
    key = new_key.input_value()
    assert len(key) > 20

    page.locator("a[href='/settings/display']").first.click()  # a boosted link: htmx navigates
    expect(page).to_have_url(f"{page.url.split('/settings')[0]}/settings/display")
    page.go_back()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.get_by_role("cell", name="CI pipeline")).to_be_visible()
    expect(page.get_by_label("New API key")).to_have_count(0)
    assert key not in page.content()
    stored = page.evaluate("() => JSON.stringify(Object.assign({}, window.sessionStorage))")
    assert key not in stored
    stored = page.evaluate("() => JSON.stringify(Object.assign({}, window.localStorage))")
    assert key not in stored
