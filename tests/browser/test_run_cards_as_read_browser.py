"""Real chromium, what a person reads on a template run and in the builder: a team viewer's chat card
and run page offer no action the role may not take (a member's did); a template run's card and
timeline list its blocks, not the engine's `load template` entry; a new template opens without
problems, and a webhook send asks for its URL beside the field; dates sit in <time datetime>."""

from __future__ import annotations

import re

import psycopg
from playwright.sync_api import Page, expect

from tests.browser.accounts import sign_up_on
from tests.browser.test_dashboard_browser import in_thread
from tests.browser.test_template_builder_browser import add_block
from tests.support.model_server import Reply

LIVE_MS = 25_000


def _chat(database_url: str, user_id: int) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(
            "INSERT INTO conversations (user_id, title) VALUES (%s, 'Reports') RETURNING id",
            (user_id,),
        ).fetchone()[0]


def _team_with(database_url: str, user_id: int, role: str) -> int:
    """A team the user belongs to with `role`, made their current space."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        team = conn.execute(
            "INSERT INTO spaces (kind, name, slug, tier, created_by) VALUES ('team', 'Newsroom',"
            " 'newsroom-' || substr(md5(random()::text), 1, 8), 'enterprise', %s) RETURNING id",
            (user_id,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO space_members (space_id, user_id, role) VALUES (%s, %s, %s)",
            (team, user_id, role),
        )
        conn.execute("UPDATE sessions SET space_id = %s WHERE user_id = %s", (team, user_id))
    return team


def _start_report(database_url: str, user_id: int, chat_id: int, space_id: int | None) -> str:
    """The gallery's "Reviewed report", started in the chat: it drafts, then waits for a review."""

    async def go():
        from app.core.db import open_pool
        from app.templates.start import start_template_run
        from app.templates.starters import load_starters

        pool = await open_pool(database_url, min_size=1, max_size=1)
        try:
            async with pool.connection() as conn:
                await load_starters(conn)
                run, _ = await start_template_run(
                    conn,
                    user_id=user_id,
                    slug="reviewed-report",
                    input={"topic": "Night trains"},
                    chat_id=chat_id,
                    space_id=space_id,
                )
            return str(run.id)
        finally:
            await pool.close()

    return in_thread(go)


def test_a_team_viewer_is_offered_no_cancel_on_the_chat_card_or_the_run_page(
    page: Page, model, database_url
):
    model.handler = lambda request: Reply("A draft on night trains.")
    _, user = sign_up_on(page, database_url, tier="pro", prefix="demoted")
    team = _team_with(database_url, user, "member")
    chat = _chat(database_url, user)
    run_id = _start_report(database_url, user, chat, team)
    page.goto(f"/chat/{chat}")
    card = page.locator(".run-card")
    expect(card.locator(".run-status")).to_have_text("Waiting", timeout=LIVE_MS)
    expect(card.get_by_role("button", name="Cancel run")).to_be_visible()  # a member may

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE space_members SET role = 'viewer' WHERE space_id = %s AND user_id = %s",
            (team, user),
        )
    page.reload()
    expect(card.locator(".run-status")).to_have_text("Waiting")
    expect(card.get_by_role("button", name="Cancel run")).to_have_count(0)
    # Nor the review's buttons: the card says where the decision is instead.
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    expect(card.locator(".run-refused")).to_contain_text(
        "You are a viewer of Newsroom: only a member or above may decide reviews here."
    )

    page.goto(f"/workflows/{run_id}")
    expect(page.get_by_text("You are a viewer of Newsroom")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)


def test_a_template_runs_card_and_timeline_show_its_blocks_not_the_load_entry(
    page: Page, model, database_url
):
    model.handler = lambda request: Reply("A draft on night trains.")
    _, user = sign_up_on(page, database_url, tier="pro", prefix="loadstep")
    chat = _chat(database_url, user)
    run_id = _start_report(database_url, user, chat, None)
    page.goto(f"/chat/{chat}")
    card = page.locator(".run-card")
    expect(card.locator(".run-status")).to_have_text("Waiting", timeout=LIVE_MS)
    expect(card.locator(".run-step-name")).to_have_text(["Write the draft", "Review the draft"])

    page.goto(f"/workflows/{run_id}")
    expect(page.locator(".wf-name")).to_have_count(2)
    expect(page.locator(".wf-row").first).to_contain_text("1 Write the draft")
    expect(page.locator(".waterfall")).not_to_contain_text("load template")
    expect(page.locator("#run-body")).to_contain_text("1 step ·")  # the draft; the review waits
    # The run page's own dates are <time datetime> elements (the header's "started").
    expect(page.locator(".page-head time[datetime]").first).to_be_visible()

    page.goto("/workflows")
    expect(page.locator(f"#run-{run_id} td[data-label='Steps']")).to_have_text("1")


def test_a_new_template_opens_clean_and_a_webhook_send_asks_for_its_url(page: Page, database_url):
    sign_up_on(page, database_url, tier="pro", prefix="sendurl")
    page.goto("/templates/new")
    expect(page.get_by_label("Title", exact=True)).to_be_visible()
    expect(page.locator("#editor-problems")).to_be_empty()  # nothing done yet, nothing to fix
    expect(page.locator("#editor-status")).to_have_text("Not saved yet")
    expect(page.locator(".field-error:not(:empty)")).to_have_count(0)

    page.get_by_label("Title", exact=True).fill("Ping the team")
    send = add_block(page, 0, "Send")
    url_label = send.locator("label[for='f-blocks-0-url']")
    expect(url_label).to_have_text("URL (required when the channel is webhook)")
    expect(url_label).not_to_contain_text("optional")
    send.get_by_label("Channel", exact=True).select_option("webhook")
    expect(send.locator("#f-blocks-0-url-error")).to_have_text(
        "Give the http(s) URL to send the webhook to.", timeout=10_000
    )
    url = send.get_by_role("textbox", name=re.compile("^URL"))
    expect(url).to_have_js_property("tagName", "INPUT")  # an address is one line
    url.fill("https://hooks.example.com/ping")
    expect(send.locator("#f-blocks-0-url-error")).to_be_empty()
    page.get_by_role("button", name="Save version").first.click()
    expect(page.locator("#editor-status")).to_have_text("Saved as version 1")
    # Once saved and shown again, a webhook send's URL is marked required for assistive tech too.
    expect(page.locator("#f-blocks-0-url")).to_have_attribute("aria-required", "true")
