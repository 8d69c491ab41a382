"""Real chromium: the workflows dashboard updates live; cancel and retry from the run page."""

import asyncio
import threading

import psycopg
from playwright.sync_api import Page, expect

from app.core.db import open_pool
from app.engine.commands import start_run
from tests.browser.accounts import sign_up_on


def in_thread(coro_fn):
    """Run async engine code beside Playwright's sync loop (which occupies this thread)."""
    result = {}

    def target():
        result["value"] = asyncio.run(coro_fn())

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    return result["value"]


def start(database_url: str, user_id: int, workflow: str, **input) -> str:
    async def go():
        pool = await open_pool(database_url, min_size=1, max_size=1)
        try:
            async with pool.connection() as conn:
                run, _ = await start_run(conn, owner_id=user_id, workflow=workflow, input=input)
            return str(run.id)
        finally:
            await pool.close()

    return in_thread(go)


def sign_up_enterprise(page: Page, database_url: str) -> int:
    return sign_up_on(page, database_url, tier="enterprise", prefix="dash")[1]


def test_the_dashboard_shows_a_run_progressing_live(page: Page, database_url):
    user_id = sign_up_enterprise(page, database_url)
    page.goto("/workflows")
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    run_id = start(database_url, user_id, "selftest", steps=8, step_ms=350)
    row = page.locator(f"#run-{run_id}")
    expect(row).to_be_visible()  # appeared without a reload
    expect(row.locator(".run-status")).to_have_text("Running")
    expect(row.locator(".run-status")).to_have_text("Completed", timeout=15_000)
    expect(row.locator("td").nth(3)).to_have_text("8")


def test_cancel_from_the_run_page_and_retry_a_failed_run(page: Page, database_url):
    user_id = sign_up_enterprise(page, database_url)
    waiting = start(database_url, user_id, "test-hook")
    page.goto(f"/workflows/{waiting}")
    expect(page.locator(".run-status-line")).to_contain_text("Waiting for: approve it")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".run-status-line .run-status")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)

    failing = start(database_url, user_id, "test-flaky-once")
    page.goto(f"/workflows/{failing}")
    expect(page.locator(".run-status-line .run-status")).to_have_text("Failed", timeout=10_000)
    expect(page.locator(".form-error")).to_contain_text("the backend was down")
    page.get_by_role("button", name="Retry from failed step").click()
    expect(page.locator(".run-status-line .run-status")).to_have_text("Completed", timeout=10_000)
    expect(page.get_by_text("recovered", exact=True).first).to_be_visible()  # the run's output
    with psycopg.connect(database_url, autocommit=True) as conn:
        prepared = conn.execute(
            "SELECT count(*) FROM test_effects WHERE run_id = %s AND name = 'prepare'", (failing,)
        ).fetchone()[0]
    assert prepared == 1  # the completed step was kept, not run again
