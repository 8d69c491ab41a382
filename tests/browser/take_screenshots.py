"""Regenerates docs/screenshots/*.png: the dashboard, a run page and the chat, at desktop (1366 px)
and phone (390 px) widths, in the light and dark themes. Not part of the suite (the file name does
not start with test_); run it by name:

    uv run pytest tests/browser/take_screenshots.py

Each PNG is reduced to a 256-colour palette so that the README's pictures stay small.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.test_dashboard_browser import start
from tests.integration.workflows.conftest import agent_of, scripted_agents
from tests.support.model_server import Reply
from tests.support.web import PASSWORD

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {"desktop": {"width": 1366, "height": 860}, "phone": {"width": 390, "height": 844}}
LIVE_MS = 20_000
ANSWER = (
    "Here is a plan for the launch post:\n\n1. **Open with the problem** the feature solves.\n"
    "2. Show one concrete example.\n3. End with how to try it today.\n\n"
    "| Part | Length |\n|---|---|\n| Intro | 2 sentences |\n| Example | 1 paragraph |\n"
)


def answers(request):
    return Reply(ANSWER) if agent_of(request) == "chat" else scripted_agents(request)


def shoot(page: Page, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    Image.open(path).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
        path, optimize=True
    )


def test_take_screenshots(page: Page, model, database_url):
    model.handler = answers
    page.goto("/signup")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/chat"))
    with psycopg.connect(database_url, autocommit=True) as conn:
        user_id = conn.execute(
            "UPDATE users SET tier = 'enterprise', time_zone = 'Europe/Paris' "
            "WHERE email = 'ada@example.com' RETURNING id"
        ).fetchone()[0]

    page.get_by_label("Message").fill("How should I structure the launch post?")
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".msg-assistant .markdown table")).to_be_visible(timeout=LIVE_MS)
    page.get_by_role("link", name="Workflows", exact=True).last.click()
    page.get_by_role("dialog", name="Start a workflow").get_by_role(
        "link", name=re.compile("Reviewed content")
    ).click()
    form = page.get_by_role("form", name="Reviewed content")
    form.get_by_label("What should it be about?").fill("Launch post for live run cards")
    form.get_by_role("button", name="Start").click()
    expect(page.locator(".run-card")).to_contain_text("Waiting for: review draft", timeout=LIVE_MS)
    chat_url = page.url
    run_id = page.locator(".run-live").first.get_attribute("id").removeprefix("run-")

    for steps in (6, 3):
        start(database_url, user_id, "selftest", steps=steps, step_ms=50)
    waiting = start(database_url, user_id, "test-hook")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE runs SET title = 'Quarterly numbers sign-off', progress = %s WHERE id = %s",
            (json.dumps({"done": 1, "total": 3, "label": "Waiting for finance"}), waiting),
        )
    page.goto("/workflows")
    expect(page.locator(".run-status", has_text="Completed")).to_have_count(2, timeout=LIVE_MS)

    for theme in ("light", "dark"):
        page.emulate_media(color_scheme=theme)
        for size_name, size in SIZES.items():
            page.set_viewport_size(size)
            for name, url in (
                ("dashboard", "/workflows"),
                ("run", f"/workflows/{run_id}"),
                ("chat", chat_url),
            ):
                page.goto(url)
                expect(page.locator("#approvals-badge")).to_have_text("2")  # the live parts are in
                if name == "chat":
                    expect(page.locator(".run-card")).to_contain_text("Waiting for: review draft")
                shoot(page, f"{name}-{size_name}-{theme}")
