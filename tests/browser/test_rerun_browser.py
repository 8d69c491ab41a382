"""Real chromium on a phone-sized screen: a person expands a step, sees what it was given, reruns
from it with an edited output, and lands on the new run, which names its original and completes;
the bulk replay page lists the matching runs before anything starts."""

import re

from playwright.sync_api import Page, expect

import tests.integration.engine.rerun_workflows  # noqa: F401  (registers test-rerun in this process)
from tests.browser.test_dashboard_browser import sign_up_enterprise, start


def no_sideways_scroll(page: Page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_rerun_from_a_step_with_an_edited_output_on_a_phone(page: Page, database_url):
    user_id = sign_up_enterprise(page, database_url)
    run_id = start(database_url, user_id, "test-rerun", tag="browser-rerun")
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"/workflows/{run_id}")
    expect(page.locator(".run-status-line .run-status")).to_have_text("Completed", timeout=15_000)
    middle = page.locator(".wf-row").nth(2)
    middle.locator("summary").click()
    expect(middle.locator(".wf-input")).to_contain_text("browser-rerun")  # what the step was given
    # The live channel may re-read the run body (closing the step) at any moment: follow the link
    # the step offers rather than race a click against that swap.
    rerun = middle.get_by_role("link", name="Rerun from here", include_hidden=True)
    page.goto(rerun.get_attribute("href"))

    expect(page.get_by_role("heading", name="Rerun from “middle”")).to_be_visible()
    assert no_sideways_scroll(page)
    page.get_by_label("Use this output instead of running the step again").check()
    page.get_by_label("Output (JSON)").fill('{"n": 20}')
    page.get_by_role("button", name="Start the rerun").click()

    expect(page).not_to_have_url(re.compile(run_id))
    expect(page.locator("#rerun-of")).to_contain_text("from step “middle” (its output edited)")
    expect(page.locator(".run-status-line .run-status")).to_have_text("Completed", timeout=15_000)
    expect(page.locator(".run-value").nth(1)).to_contain_text("21")
    expect(page.locator(".wf-reused")).to_have_count(3)
    assert no_sideways_scroll(page)
    page.locator("#rerun-of a").first.click()
    expect(page).to_have_url(re.compile(f"/workflows/{run_id}$"))


def test_the_replay_page_shows_what_matches_before_starting(page: Page, database_url):
    user_id = sign_up_enterprise(page, database_url)
    run_id = start(database_url, user_id, "test-rerun", tag="browser-replay")
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"/workflows/{run_id}")
    expect(page.locator(".run-status-line .run-status")).to_have_text("Completed", timeout=15_000)
    page.goto("/workflows")
    page.get_by_role("link", name="Replay runs…").click()
    expect(page.get_by_role("heading", name="Replay runs")).to_be_visible()
    page.get_by_label("Workflow").fill("test-rerun")
    page.get_by_label("failed").uncheck()
    page.get_by_label("completed").check()
    page.get_by_role("button", name="Show matching runs").click()
    expect(page.locator("#replay-matches")).to_have_text("1 run match")
    assert no_sideways_scroll(page)
    page.get_by_role("button", name="Replay 1 run").click()
    expect(page.locator("#replay-state")).to_have_text("Every run started", timeout=15_000)
    expect(page.locator("#replay-body")).to_contain_text("1 completed", timeout=15_000)
