"""In real chromium: an open page marks its user present on it (what spares them e-mails about the
run they are looking at), following boosted navigation; the notification settings work at a
phone's 360 px width without sideways scrolling."""

import os
import time

import psycopg
from playwright.sync_api import Page, expect

from tests.browser.test_dashboard_browser import sign_up_enterprise


def pages_present(database_url: str, user_id: int) -> list[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT page FROM presence WHERE user_id = %s ORDER BY page", (user_id,)
        ).fetchall()
    return [row[0] for row in rows]


def wait_for_pages(
    database_url: str, user_id: int, expected: list[str], timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while (found := pages_present(database_url, user_id)) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"present on {found}, expected {expected}")
        time.sleep(0.05)


def test_an_open_page_marks_its_user_present_there_and_follows_navigation(page: Page, database_url):
    user_id = sign_up_enterprise(page, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        chat_id = conn.execute(
            "INSERT INTO conversations (user_id, title) VALUES (%s, 'Presence') RETURNING id",
            (user_id,),
        ).fetchone()[0]
    page.goto(f"/chat/{chat_id}")
    wait_for_pages(database_url, user_id, [f"/chat/{chat_id}"])
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Workflows"
    ).click()  # boosted
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    wait_for_pages(database_url, user_id, ["/workflows"])
    page.goto("about:blank")  # the tab leaves Baton
    wait_for_pages(database_url, user_id, [])


def test_the_notification_settings_work_at_phone_width(page: Page, database_url):
    sign_up_enterprise(page, database_url)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/settings/notifications")
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    review = page.get_by_role("group", name="A review or decision is needed")
    review.get_by_label("E-mail").select_option("digest")
    page.get_by_role("group", name="A run failed or was stopped").get_by_label(
        "E-mail"
    ).select_option("each")
    page.get_by_role("group", name="A run finished").get_by_label("In the bell").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    if os.environ.get("BATON_SCREENSHOTS"):
        page.screenshot(
            path=os.path.join(os.environ["BATON_SCREENSHOTS"], "notification-settings-360.png"),
            full_page=True,
        )
    # The settings themselves fit (the top bar's own narrow layout is issue 13's mobile item).
    box = page.locator("#notification-settings").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    page.reload()
    expect(
        page.get_by_role("group", name="A review or decision is needed").get_by_label("E-mail")
    ).to_have_value("digest")
    expect(
        page.get_by_role("group", name="A run finished").get_by_label("In the bell")
    ).not_to_be_checked()
    # The digest's time zone is the one set under Display, linked from here.
    page.get_by_role("link", name="your display settings").click()
    expect(page.get_by_label("Your time zone")).to_be_visible()


def test_an_open_bell_stays_open_while_a_new_approval_arrives(page: Page, database_url):
    from tests.browser.test_dashboard_browser import start

    user_id = sign_up_enterprise(page, database_url)
    page.goto("/workflows")
    expect(page.locator("#approvals-badge")).to_be_hidden()
    page.locator(".bell-button").click()
    expect(page.locator(".bell-menu")).to_be_visible()
    start(database_url, user_id, "test-hook")  # the nav's live parts update
    expect(page.locator("#approvals-badge")).to_have_text("1")
    expect(page.locator(".bell-menu")).to_be_visible()  # it used to snap shut under the reader
