"""Real chromium: the sign-up form sends the browser's own time zone (static/js/baton.js), and
pages then show dates in it, with the zone named."""

from __future__ import annotations

import re

import psycopg
from playwright.sync_api import expect

from tests.support.web import PASSWORD, new_email


def test_sign_up_takes_the_browsers_zone_and_pages_use_it(browser, live_server, database_url):
    context = browser.new_context(base_url=live_server.url, timezone_id="Europe/Berlin")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        email = new_email("zone")
        page.goto("/signup")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign up").click()
        expect(page).to_have_url(re.compile(r"/chat"))
        with psycopg.connect(database_url) as conn:
            assert (
                conn.execute("SELECT time_zone FROM users WHERE email = %s", (email,)).fetchone()[0]
                == "Europe/Berlin"
            )
        page.goto("/account")
        expect(page.locator("main")).to_contain_text(
            re.compile(r"\d\d:\d\d CES?T")
        )  # the session start, in Berlin time
        page.goto("/settings/display")
        expect(page.get_by_label("Your time zone")).to_have_value("Europe/Berlin")
    finally:
        context.close()
