"""Real chromium: a template's `ask_person` block asks for its fields wherever a person decides hooks:
in the chat's run card, on the /approvals page (from the inbox) and on the e-mail link's page. A bad
answer is refused beside the field with everything typed kept; a good one becomes the block's output,
which the next block reads."""

from __future__ import annotations

import json
import re

import psycopg
from playwright.sync_api import Locator, Page, expect

from tests.browser.accounts import sign_up_on

LIVE_MS = 25_000

TRIP = {
    "title": "Trip form",
    "inputs": [],
    "blocks": [
        {
            "id": "ask",
            "kind": "ask_person",
            "title": "Trip details",
            "message": "Where to?",
            "fields": [
                {"name": "city", "label": "City", "kind": "short_text"},
                {"name": "nights", "label": "Nights", "kind": "number"},
                {"name": "by_train", "label": "By train", "kind": "yes_no"},
                {"name": "seat", "label": "Seat", "kind": "choice", "choices": ["aisle", "window"]},
                {"name": "notes", "label": "Notes", "kind": "long_text", "required": False},
            ],
        },
        {
            "id": "note",
            "kind": "document",
            "markdown": "Going to {{ ask.city }} for {{ ask.nights | int }} nights",
        },
    ],
}


def import_template(page: Page, database_url: str, user_id: int) -> int:
    page.goto("/templates/import")
    page.locator("#import-file").set_input_files(
        {"name": "trip.json", "mimeType": "application/json", "buffer": json.dumps(TRIP).encode()}
    )
    page.get_by_role("button", name="Import").click()
    expect(page).not_to_have_url(re.compile(r"/templates/import$"), timeout=LIVE_MS)
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT id FROM templates WHERE owner_id = %s ORDER BY id DESC LIMIT 1", (user_id,)
        ).fetchone()[0]


def start_run(page: Page, template_id: int) -> None:
    page.goto(f"/templates/{template_id}/run")
    page.get_by_role("button", name="Start").click()
    expect(page).to_have_url(re.compile(r"/chat/\d+$"), timeout=LIVE_MS)


def answer_badly_then_well(form: Locator, city: str) -> None:
    form.get_by_label("City").fill("   ")
    form.get_by_label("Seat").select_option("window")
    form.get_by_label("Notes").fill("keep me")
    form.get_by_role("button", name="Send").click()
    expect(form.locator(".field.has-error")).to_have_count(2, timeout=LIVE_MS)  # city, nights
    city_field = form.locator(".field", has_text="City")
    expect(city_field.locator(".field-error")).to_have_text("Fill this in.")  # beside the field
    expect(form.get_by_label("Seat")).to_have_value("window", timeout=LIVE_MS)  # nothing lost
    expect(form.get_by_label("Notes")).to_have_value("keep me", timeout=LIVE_MS)
    form.get_by_label("City").fill(city)
    form.get_by_label("Nights").fill("3")
    form.get_by_label("By train").check()
    form.get_by_role("button", name="Send").click()


def document_of(database_url: str, user_id: int) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT output FROM runs WHERE owner_id = %s AND status = 'completed'"
            " ORDER BY id DESC LIMIT 1",
            (user_id,),
        ).fetchone()
    return row[0]["document"] if row else ""


def test_ask_person_in_the_chat_card_the_approvals_page_and_the_email_link(
    page: Page, database_url: str
):
    _, user_id = sign_up_on(page, database_url, tier="pro", prefix="ask-person")
    template_id = import_template(page, database_url, user_id)

    # 1. In the chat's run card.
    start_run(page, template_id)
    card = page.locator(".run-live").last
    form = card.locator("form.decision-form")
    expect(form.get_by_label("City")).to_be_visible(timeout=LIVE_MS)
    expect(form.get_by_label("By train")).not_to_be_checked()
    answer_badly_then_well(form, "Lyon")
    expect(card).to_contain_text("Going to Lyon for 3 nights", timeout=LIVE_MS)

    # 2. On the /approvals page, reached from the inbox.
    start_run(page, template_id)
    expect(page.locator(".run-live").last.get_by_label("City")).to_be_visible(timeout=LIVE_MS)
    page.goto("/approvals")
    page.get_by_role("link", name="Review").first.click()
    expect(page).to_have_url(re.compile(r"/approvals/\d+$"), timeout=LIVE_MS)
    answer_badly_then_well(page.locator("form.decision-form"), "Porto")
    expect(page.get_by_text(re.compile("already decided|Thank you"))).to_be_visible(timeout=LIVE_MS)

    # 3. On the e-mail link's page (no sign-in needed).
    start_run(page, template_id)
    expect(page.locator(".run-live").last.get_by_label("City")).to_be_visible(timeout=LIVE_MS)
    with psycopg.connect(database_url, autocommit=True) as conn:
        token = conn.execute(
            "SELECT token FROM hooks WHERE owner_id = %s AND status = 'waiting'", (user_id,)
        ).fetchone()[0]
    page.goto(f"/review/{token}")
    answer_badly_then_well(page.locator("form.decision-form"), "Oslo")
    expect(page.get_by_text("Thank you")).to_be_visible(timeout=LIVE_MS)

    with psycopg.connect(database_url, autocommit=True) as conn:
        answers = [
            row[0]
            for row in conn.execute(
                "SELECT response FROM hooks WHERE owner_id = %s ORDER BY id", (user_id,)
            ).fetchall()
        ]
    assert [a["city"] for a in answers] == ["Lyon", "Porto", "Oslo"]
    assert all(a["nights"] == 3.0 and a["by_train"] and a["seat"] == "window" for a in answers)
    assert answers[0]["notes"] == "keep me"
