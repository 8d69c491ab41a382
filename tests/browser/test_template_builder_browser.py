"""Real chromium: from an empty account, a person builds a template in the editor (inputs, then
ask_model → review with a jump-back → wait → document), sees a problem appear beside its field
while typing, saves it, test-runs it beside the editor (requests changes once, approves), downloads
its PDF, then edits it and finds two versions in the history. Also: the editor at a phone's width in
dark mode, built by keyboard, and the warning before leaving with unsaved changes."""

from __future__ import annotations

import re
import subprocess

from playwright.sync_api import Locator, Page, expect

from tests.browser.accounts import sign_up_on
from tests.browser.htmx import settled
from tests.support.model_server import Reply

LIVE_MS = 25_000  # the worker, the model and the PDF on a busy 2-core machine


def notes_model(request):
    """The model writes notes on what it was asked, quoting the reviewer's feedback when given."""
    prompt = request.last_user_message
    applied = prompt.split("Apply: ", 1)[1].strip() if "Apply: " in prompt else ""
    return Reply(
        f"Field notes on urban foxes.{' Applied: ' + applied if applied else ''}", tokens_in=20
    )


def add_block(page: Page, where: int, kind: str) -> Locator:
    """Opens the "Add a block here" menu at gap `where` of the top-level flow and picks `kind`;
    returns the new block once the editor shows it."""
    gap = page.locator("#f-blocks > .flow-gap").nth(where)
    gap.get_by_text("Add a block here").click()
    gap.get_by_role("button", name=kind, exact=True).click()
    block = page.locator(f"#f-blocks-{where}")
    expect(block.locator(".block-title")).to_contain_text(kind)
    settled(page)
    return block


def test_build_save_test_run_review_pdf_and_versions(page: Page, model, database_url):
    model.handler = notes_model
    sign_up_on(page, database_url, tier="pro", prefix="builder")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates").click()
    expect(page.get_by_text("You have no templates yet.")).to_be_visible()
    page.get_by_role("link", name="New template").click()
    expect(page).to_have_url(re.compile(r"/templates/new$"))

    page.get_by_label("Title", exact=True).fill("Fox notes")
    page.get_by_role("button", name="Add to inputs").click()
    first_input = page.locator("#f-inputs-0")
    first_input.get_by_label("Name", exact=True).fill("topic")
    first_input.get_by_label("Label").fill("What about?")

    draft = add_block(page, 0, "Ask the model")
    draft.get_by_label(re.compile("^Name")).fill("draft")
    prompt = draft.get_by_label("Prompt", exact=True)
    prompt.fill("Write field notes about {{ inputs.topc }}.")
    # The typo is caught while typing, beside the prompt.
    expect(draft.locator("#f-blocks-0-prompt-error")).to_contain_text("Unknown input “inputs.topc”")
    prompt.fill("Write field notes about ")
    draft.get_by_text("Variables").click()
    draft.get_by_role("button", name="{{ inputs.topic }}").click()  # the variable picker
    prompt.press("End")
    prompt.type(".{% if check.feedback %} Apply: {{ check.feedback }}{% endif %}")
    expect(draft.locator("#f-blocks-0-prompt-error")).to_contain_text(
        "Unknown variable “check”"
    )  # not yet there

    review = add_block(page, 1, "Review")
    review.get_by_label(re.compile("^Name")).fill("check")
    review.get_by_label("Content").fill("{{ draft }}")
    review.get_by_label(re.compile("go back to block")).fill("draft")
    expect(review.locator("#f-blocks-1-max_rounds-error")).to_contain_text(
        "needs a limit on rounds"
    )
    review.get_by_label(re.compile("change requests")).fill("2")
    # The review exists now, and jumps back to the draft: the draft may read its feedback.
    expect(page.locator("#f-blocks-0-prompt-error")).to_be_empty()

    wait = add_block(page, 2, "Wait")
    wait.get_by_label(re.compile("^Duration")).fill("2s")

    document = add_block(page, 3, "Document")
    document.get_by_label("Document title").fill("{{ inputs.topic }}")
    document.get_by_label("Markdown").fill("{{ draft }}")
    expect(page.locator("#editor-problems")).to_be_empty()

    page.get_by_role("button", name="Save version").first.click()
    expect(page).to_have_url(re.compile(r"/templates/\d+$"))
    expect(page.locator("#editor-status")).to_have_text("Saved as version 1")
    expect(page.locator(".version")).to_have_count(1)

    # Test run, beside the editor, of the draft: an unsaved edit runs, and no version is made.
    page.get_by_label("Title", exact=True).fill("Fox notes draft")
    expect(page.locator("#editor-status")).to_contain_text("Draft kept")
    test = page.get_by_role("form", name="Test run")
    test.get_by_label("What about?").fill("urban foxes")
    test.get_by_role("button", name="Test run").click()
    card = page.locator("#test-run .run-card")
    expect(card).to_contain_text("Field notes on urban foxes.", timeout=LIVE_MS)
    expect(card.locator(".run-waiting")).to_be_visible(timeout=LIVE_MS)
    expect(card.locator(".run-step", has_text="check")).to_contain_text("waiting", timeout=LIVE_MS)
    card.get_by_label(re.compile("^Feedback")).fill("Mention their dens")
    card.get_by_role("button", name=re.compile("Request changes")).click()
    expect(card).to_contain_text("Applied: Mention their dens", timeout=LIVE_MS)
    card.get_by_role("button", name="Approve").click()
    expect(card.locator(".run-status")).to_have_text("Completed", timeout=LIVE_MS)
    expect(card).to_contain_text("Fox notes draft")  # the draft ran

    with page.expect_download() as download:
        card.get_by_role("link", name="Download PDF").click()
    with open(download.value.path(), "rb") as f:
        pdf = f.read()
    assert pdf.startswith(b"%PDF-")
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "urban foxes" in text and "Applied: Mention their dens" in text
    page.reload()
    expect(page.locator(".version")).to_have_count(1)  # the test run made no version

    # An edit makes version 2; the history lists both, who saved them and when.
    page.get_by_label("Title", exact=True).fill("Fox notes, second edition")
    page.get_by_role("button", name="Save version").first.click()
    expect(page.locator("#editor-status")).to_have_text("Saved as version 2")
    expect(page.locator(".version")).to_have_count(2)
    expect(page.locator(".version").first).to_contain_text("builder-")


def test_the_list_and_the_editor_fit_a_phone_in_the_dark_and_work_by_keyboard(
    browser, live_server, database_url
):
    from tests.browser.test_phone_layout_browser import PHONE, assert_fits
    from tests.support.fixtures import forget_ip_limits

    forget_ip_limits(database_url)
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, has_touch=True, color_scheme="dark"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_up_on(page, database_url, tier="pro", prefix="phone-builder")
        page.goto("/templates")
        assert_fits(page)
        page.goto("/templates/new")
        page.get_by_label("Title", exact=True).fill("Pocket template")
        # Keyboard only: open the menu between blocks, pick a kind, land on the new block.
        page.get_by_text("Add a block here").focus()
        page.keyboard.press("Enter")
        menu = page.locator("#f-blocks .add-block-menu")
        expect(menu.get_by_role("button", name="For each")).to_be_visible()
        menu.get_by_role("button", name="For each").focus()
        page.keyboard.press("Enter")
        loop = page.locator("#f-blocks-0")
        expect(loop).to_be_focused()
        expect(loop.locator(".flow .flow-gap")).to_have_count(1)  # its own, indented flow
        nested = loop.locator(".flow .add-block").first
        nested.get_by_text("Add a block here").click()
        nested.get_by_role("button", name="Ask the model").click()
        expect(page.locator("#f-blocks-0-blocks-0")).to_be_visible()
        assert_fits(page)
        background = page.evaluate(
            "() => getComputedStyle(document.querySelector('.block')).backgroundColor"
        )
        assert background == "rgb(24, 29, 38)", background  # the dark card colour of baton.css

        # Leaving with changes not saved as a version asks first (a link followed in the page, or closing it).
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
        page.locator(".page-head").get_by_role("link", name="Templates", exact=True).click()
        expect(page).to_have_url(re.compile(r"/templates$"))
        assert dialogs == ["confirm"]
        page.goto("/templates/new")
        expect(page.locator("#editor-status")).to_contain_text("Your unsaved changes were kept.")
        expect(page.get_by_label("Title", exact=True)).to_have_value("Pocket template")
        page.get_by_label("Title", exact=True).fill("Pocket template, again")
        page.close(run_before_unload=True)
        page.wait_for_event("close")
        assert dialogs == ["confirm", "beforeunload"]
    finally:
        context.close()
