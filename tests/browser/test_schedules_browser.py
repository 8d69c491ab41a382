"""A person schedules a workflow in a real browser: the preview shows the next fires as they type,
the schedule's run appears by itself, and they pause it with a note. Also at a phone's width in
dark mode, without sideways scrolling."""

from __future__ import annotations

import re

import psycopg
from playwright.sync_api import Page, expect

from tests.browser.accounts import sign_up_on
from tests.browser.htmx import settled
from tests.browser.test_phone_layout_browser import PHONE, assert_fits

LIVE_MS = 20_000


def test_create_from_the_form_see_its_run_then_pause(page: Page, database_url):
    sign_up_on(page, database_url, tier="enterprise", prefix="sched")
    page.goto("/schedules")
    page.get_by_role("link", name="New schedule").click()
    expect(page.get_by_label("Workflow")).to_be_visible()
    settled(page)
    page.get_by_label("Workflow").select_option("content-generation")
    page.get_by_label("What should it be about?").fill("the team digest, every few seconds")
    when = page.get_by_label("When")
    when.fill("0 9 * * 1-5")
    preview = page.locator("#schedule-preview")
    expect(preview).to_contain_text("At 09:00, Monday through Friday")
    expect(preview.locator("li")).to_have_count(5)
    when.fill("61 9 * * *")
    expect(preview).to_contain_text("out of range")
    page.get_by_role(
        "button", name="Create schedule"
    ).click()  # refused, the message beside the field
    expect(page.locator("#sched_when-error")).to_contain_text("out of range")
    expect(page.get_by_label("What should it be about?")).to_have_value(
        "the team digest, every few seconds"
    )
    when = page.get_by_label("When")
    preview = page.locator("#schedule-preview")
    when.fill("3s")
    expect(preview).to_contain_text("Every 3 seconds")
    expect(preview.locator("li")).to_have_count(5)
    page.get_by_label("Name").fill("Digest drill")
    page.get_by_role("button", name="Create schedule").click()

    expect(page.get_by_role("heading", name="Digest drill")).to_be_visible()
    fires = page.locator("#schedule-fires")
    expect(fires.get_by_role("link")).not_to_have_count(0, timeout=LIVE_MS)  # its run, arrived live
    page.get_by_placeholder("Note (optional): why it is paused").fill("enough for today")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".schedule-facts")).to_contain_text("Paused enough for today")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()

    run_link = fires.get_by_role("link").first
    run_link.click()
    expect(page.locator(".run-origin")).to_contain_text(
        re.compile(r"Started by schedule Digest drill for")
    )
    page.goto("/schedules")
    expect(page.locator("#schedules-table, .schedules-table")).to_contain_text("Paused")


def test_the_schedule_pages_fit_a_phone_in_dark_mode(browser, live_server, database_url):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, color_scheme="dark")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        _, user_id = sign_up_on(page, database_url, tier="enterprise", prefix="sched-phone")
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE users SET theme = 'dark' WHERE id = %s", (user_id,))
        page.goto("/schedules/new?workflow=content-generation")
        page.get_by_label("When").fill("*/15 9-17 * * 1-5")
        expect(page.locator("#schedule-preview li")).to_have_count(5)
        assert_fits(page)
        page.get_by_label("What should it be about?").fill(
            "a long schedule to see on a small screen"
        )
        page.get_by_label("Name").fill("A rather long schedule name to check wrapping on phones")
        page.get_by_role("button", name="Create schedule").click()
        expect(page.locator(".schedule-facts")).to_be_visible()
        assert_fits(page)
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background != "rgb(255, 255, 255)", background
        page.goto("/schedules")
        assert_fits(page)
    finally:
        context.close()
