"""Real chromium on a 360 px wide screen: a new account follows the first-run checklist from its first
chat to a downloaded PDF and sees every item ticked; the Help page finds "approve"."""

from __future__ import annotations

import re

import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.browser.accounts import sign_up_on
from tests.integration.workflows.conftest import scripted_agents
from tests.support.web import new_email

LIVE_MS = 20_000  # waits on the worker (model steps, the PDF), for a busy 2-core machine


@pytest.fixture
def phone(browser, live_server, database_url):
    from tests.support.fixtures import forget_ip_limits

    forget_ip_limits(database_url)
    with psycopg.connect(
        database_url, autocommit=True
    ) as conn:  # the install's first account is the admin
        conn.execute(
            "INSERT INTO users (email) VALUES (%s) ON CONFLICT DO NOTHING", (new_email("first"),)
        )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 360, "height": 740})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def sign_up(page: Page, database_url: str) -> str:
    return sign_up_on(page, database_url, tier="pro", prefix="newcomer")[0]


def fits(locator) -> None:
    """The element lies within the 360 px screen (the rest of the page's mobile layout is another
    change's: the header, for one, is wider today)."""
    box = locator.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 361, box


def test_the_checklist_leads_a_new_account_to_its_pdf(phone: Page, model, database_url):
    page = phone
    model.handler = scripted_agents
    sign_up(page, database_url)
    page.goto("/chat")  # the plan with workflow runs was given after sign-up: the page as it is now
    checklist = page.locator("#checklist")
    expect(checklist).to_contain_text("0 of 4 done")
    fits(checklist)

    page.get_by_role("textbox", name=re.compile("Message")).fill("What can Baton do?")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(r"/chat/\d+$"), timeout=LIVE_MS)
    page.goto("/chat")
    expect(checklist.locator("[data-done=yes]")).to_have_text(re.compile("Start a chat"))

    checklist.get_by_role("link", name="Run a reviewed report", exact=True).click()
    form = page.get_by_role("form", name="Reviewed content")
    form.get_by_label("What should it be about?").fill("Urban foxes at night")
    form.get_by_role("button", name="Start").click()
    card = page.locator(".run-card")
    expect(card).to_contain_text("Waiting for: review draft", timeout=LIVE_MS)
    card.get_by_role("button", name="Approve").click()
    expect(card.locator(".run-status")).to_have_text("Completed", timeout=LIVE_MS)
    with page.expect_download() as download:
        card.get_by_role("link", name="Download PDF").click()
    with open(download.value.path(), "rb") as f:
        assert f.read().startswith(b"%PDF-")

    page.goto("/chat")
    expect(checklist).to_contain_text("4 of 4 done")
    expect(checklist.locator("[data-done=no]")).to_have_count(0)
    fits(checklist)

    checklist.get_by_role("button", name="Dismiss").click()
    expect(checklist).to_have_count(0)
    page.reload()
    expect(page.locator("#checklist")).to_have_count(0)


def test_help_is_in_the_header_and_finds_approve(phone: Page, database_url):
    page = phone
    sign_up(page, database_url)
    page.locator(".nav-toggle-button").click()  # on a phone the header's links are behind Menu
    page.get_by_role("link", name="Help", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/help$"))
    expect(page.get_by_role("heading", name="Slash commands in the chat")).to_be_visible()
    page.get_by_role("searchbox", name="Search the help").fill("approve")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/help\?q=approve"))
    hit = page.locator(".help-hit").first
    expect(hit).to_contain_text("Workflows and approvals")
    hit.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Workflows and approvals", level=1)).to_be_visible()
    fits(page.locator(".help-body"))
    fits(page.locator(".help-search"))
