"""Real chromium: the code-review card — comments at file:line, the failing test run's output, then
"Fixes pushed" with the new ref, and the card turning approved live."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_dashboard_browser import sign_up_enterprise, start
from tests.browser.test_publishing_browser import wait_for_hook
from tests.integration.code_review.conftest import (
    FIXED,
    calc_repo,  # noqa: F401  (fixture)
    commit,
    review_reply,
)


@pytest.fixture
def reviewer(model_server):
    model_server.reset()
    model_server.handler = review_reply
    yield model_server
    model_server.reset()


def test_comments_test_output_and_fixes_pushed(page: Page, database_url, reviewer, calc_repo):  # noqa: F811
    user_id = sign_up_enterprise(page, database_url)
    run_id = start(
        database_url, user_id, "code-review", repository=str(calc_repo), base="main", head="feature"
    )
    wait_for_hook(database_url, run_id, "wait for fixes (1)", timeout=30)
    page.goto(f"/code-review/{run_id}")
    card = page.locator(f"#run-{run_id}")
    expect(card.locator(".review-anchor")).to_have_text(["calc.js:2"])
    expect(card.locator(".review-comment")).to_contain_text(
        "mul adds instead of multiplying <b>!</b>"
    )
    expect(card.locator(".test-run").first).to_contain_text("Test run 1: Tests failed")
    expect(card.locator(".test-output").first).to_contain_text("FAIL mul: got 5, want 6")

    commit(calc_repo, "fix mul", {"calc.js": FIXED})
    card.get_by_label("New head (branch, tag or commit)").fill("feature")
    card.get_by_role("button", name="Fixes pushed").click()
    expect(card.locator(".run-status")).to_have_text("Completed", timeout=20_000)
    expect(card.locator(".test-run").last).to_contain_text("Test run 2: Tests passed")
    expect(card.get_by_text("Approved", exact=False).first).to_be_visible()
    expect(card.get_by_role("link", name="Download PDF")).to_be_visible()
