"""Real chromium: the research team from a slash command, through both hooks: the sources are
edited before the writer sees them, the article is sent back once, then approved and published."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_workflows_content import LIVE_MS, sign_up
from tests.integration.workflows.conftest import scripted_agents


def test_research_team_through_both_hooks(page: Page, model, database_url):
    model.handler = scripted_agents
    sign_up(page, database_url, tier="premium")
    page.get_by_label("Message").fill("/help")
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".msg-help")).to_contain_text("/team <topic>")

    page.get_by_label("Message").fill("/team Rooftop gardens")
    page.get_by_label("Message").press("Enter")
    expect(page).to_have_url(re.compile(r"/chat/\d+$"))
    card = page.locator(".run-card")
    expect(card).to_contain_text("Waiting for: validate sources", timeout=LIVE_MS)
    sources = card.get_by_role("textbox", name="Sources")
    expect(sources).to_have_value("https://example.org/one\nhttps://example.org/two")
    sources.fill("https://example.org/two\nCity rooftop survey 2024")
    card.get_by_role("button", name="Use these sources").click()

    expect(card).to_contain_text("Waiting for: final review", timeout=LIVE_MS)
    expect(card.locator(".decision-content")).to_contain_text(
        "Checked: Edited: Article citing - https://example.org/two - City rooftop survey 2024.",
        timeout=LIVE_MS,
    )
    for step in ("research", "validate sources", "writer", "editor", "fact-checker"):
        expect(card.locator(".run-step.is-done", has_text=step).first).to_be_visible(
            timeout=LIVE_MS
        )
    card.get_by_label(re.compile("^Feedback")).fill("Add costs per square metre")
    card.get_by_role("button", name="Iterate").click()

    expect(card).to_contain_text("Waiting for: final review (2)", timeout=LIVE_MS)
    expect(card.locator(".decision-content")).to_contain_text(
        "Applied: Add costs per square metre", timeout=LIVE_MS
    )
    card.get_by_role("button", name="Approve and publish").click()
    expect(card.locator(".run-status")).to_have_text("Completed", timeout=LIVE_MS)
    expect(card.locator(".run-document")).to_contain_text(
        "Applied: Add costs per square metre", timeout=LIVE_MS
    )
    expect(card.get_by_role("link", name="Download PDF")).to_be_visible(timeout=LIVE_MS)
    expect(card.get_by_role("link", name="Download rooftop-gardens.md")).to_be_visible(
        timeout=LIVE_MS
    )

    page.goto("/approvals")
    expect(page.get_by_text("Nothing is waiting for you.")).to_be_visible()
    page.locator("#bell summary").click()
    expect(page.locator(".bell-menu")).to_contain_text("Completed: Rooftop gardens")
