"""Real chromium: the reviewed-content workflow from the composer's picker, live in the chat,
through a revision to the approved document and its PDF; a second tab follows every decision."""

from __future__ import annotations

import re
import subprocess

import psycopg
from playwright.sync_api import Page, expect

from tests.integration.workflows.conftest import scripted_agents
from tests.support.web import PASSWORD, new_email

# Waits on the worker (model steps, the PDF): generous, for a busy 2-core CI machine.
LIVE_MS = 20_000


def sign_up(page: Page, database_url: str, tier: str = "pro") -> str:
    email = new_email("flow")
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/chat$"))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET tier = %s WHERE email = %s", (tier, email))
    return email


def test_picker_card_revision_approval_and_pdf(page: Page, model, database_url):
    model.handler = scripted_agents
    sign_up(page, database_url)
    page.get_by_role("link", name="Workflows").last.click()
    picker = page.get_by_role("dialog", name="Start a workflow")
    expect(picker).to_contain_text("Research team")
    picker.get_by_role("link", name=re.compile("Reviewed content")).click()
    form = page.get_by_role("form", name="Reviewed content")
    form.get_by_label("What should it be about?").fill("A field guide to urban foxes")
    form.get_by_role("button", name="Start").click()

    expect(page).to_have_url(re.compile(r"/chat/\d+$"))
    card = page.locator(".run-card")
    expect(card).to_contain_text("Reviewed content", timeout=LIVE_MS)
    expect(card).to_contain_text(
        "Waiting for: review draft", timeout=LIVE_MS
    )  # live: no reload happened
    expect(card).to_contain_text("The first draft of the document.", timeout=LIVE_MS)
    expect(card.locator(".run-step.is-done")).to_contain_text("write draft", timeout=LIVE_MS)
    expect(page.locator("#approvals-badge")).to_have_text("1", timeout=LIVE_MS)
    expect(page.locator(".bell-count")).to_have_text("1", timeout=LIVE_MS)

    other = page.context.new_page()  # the same user in a second tab
    other.goto(page.url)
    other_card = other.locator(".run-card")
    expect(other_card).to_contain_text("Waiting for: review draft", timeout=LIVE_MS)

    card.get_by_role("button", name="Request revision").click()
    expect(card.get_by_role("alert")).to_contain_text(
        "Write what should change", timeout=LIVE_MS
    )  # feedback is required
    card.get_by_label(re.compile("^Feedback")).fill("Add a section on where foxes sleep")
    card.get_by_role("button", name="Request revision").click()
    expect(card).to_contain_text("Waiting for: review revision 1", timeout=LIVE_MS)
    expect(card).to_contain_text("applying: Add a section on where foxes sleep", timeout=LIVE_MS)
    expect(card.locator(".run-step", has_text="review draft")).to_contain_text(
        "revision requested", timeout=LIVE_MS
    )
    expect(other_card).to_contain_text(
        "Waiting for: review revision 1", timeout=LIVE_MS
    )  # the other tab followed

    card.get_by_role("button", name="Approve").click()
    expect(card.locator(".run-status")).to_have_text("Completed", timeout=LIVE_MS)
    # The title once, in the card's own heading: the document's "# title" is not repeated below it.
    expect(card.locator(".run-card-title")).to_have_text(
        "A field guide to urban foxes", timeout=LIVE_MS
    )
    expect(card.locator(".run-document h1, .run-document h2, .run-document h3")).to_have_count(0)
    expect(card.locator(".run-document")).not_to_contain_text("A field guide to urban foxes")
    expect(card.locator(".run-document")).to_contain_text(
        "Generated with AI assistance", timeout=LIVE_MS
    )
    expect(other_card.locator(".run-status")).to_have_text("Completed", timeout=LIVE_MS)
    expect(other_card.get_by_role("button", name="Approve")).to_have_count(0, timeout=LIVE_MS)
    expect(page.locator("#approvals-badge")).to_be_hidden(timeout=LIVE_MS)

    with page.expect_download() as download:
        card.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == "a-field-guide-to-urban-foxes.pdf"
    with open(download.value.path(), "rb") as f:
        pdf = f.read()
    assert pdf.startswith(b"%PDF-")
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "A field guide to urban foxes" in text
    assert "applying: Add a section on where foxes sleep" in text
    assert "Generated with AI assistance" in text

    page.reload()  # reopening the chat shows the card as it is now
    expect(page.locator(".run-card .run-status")).to_have_text("Completed", timeout=LIVE_MS)
    expect(page.locator(".run-card .run-document")).to_contain_text(
        "where foxes sleep", timeout=LIVE_MS
    )
    other.close()


def test_a_free_account_is_told_its_limit(page: Page, model, database_url):
    sign_up(page, database_url, tier="free")
    page.get_by_label("Message").fill("/report Anything at all")
    page.get_by_label("Message").press("Enter")
    expect(page.locator("#composer-error")).to_have_text(
        "Cannot start the workflow: monthly workflow limit reached (0 on Free)."
    )
