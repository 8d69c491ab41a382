"""Real chromium at a phone's size: the Admin overview's "Runs at risk after the last deploy" card
shows what the last deploy check recorded, fits 360 px in light and dark, and links to the runs."""

from __future__ import annotations

import re

import psycopg
from playwright.sync_api import Page, expect
from psycopg.types.json import Jsonb

from app.engine.replay_check import Risk
from tests.browser.test_dashboard_browser import start
from tests.browser.test_phone_layout_browser import assert_fits, phone, sign_up_admin  # noqa: F401

RECORD = """
INSERT INTO deploy_checks (checked_by, runs_checked, runs_at_risk, versions, runs)
VALUES ('worker-7:4242', 40, %(n)s, %(versions)s, %(runs)s)
"""


def record_check(database_url: str, risks: list[Risk]) -> None:
    versions = [
        {"workflow": r.workflow, "version": r.version, "problem": r.problem, "runs": 1}
        for r in risks
    ]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            RECORD,
            {
                "n": len(risks),
                "versions": Jsonb(versions),
                "runs": Jsonb([r.to_json() for r in risks]),
            },
        )


def test_the_card_lists_the_runs_at_risk_and_fits_a_phone_in_both_themes(phone: Page, database_url):  # noqa: F811
    page = phone
    admin_id = sign_up_admin(page, database_url)
    mine = start(database_url, admin_id, "test-hook")
    other = "0b7c1d6e-2f3a-4b5c-8d9e-0f1a2b3c4d5e"
    record_check(
        database_url,
        [
            Risk(
                mine,
                "test-hook",
                1,
                "waiting",
                admin_id,
                "admin@example.test",
                "diverged",
                "at position 1 the journal holds step 'draft' but the code now asks for step 'write a long draft'",
                position=1,
                journal_step={"name": "draft", "kind": "step"},
                code_step={"name": "write a long draft", "kind": "step"},
            ),
            Risk(
                other,
                "content-generation",
                2,
                "sleeping",
                admin_id + 10_000,
                "someone.else@example.test",
                "workflow_missing",
                "workflow 'content-generation' has no version 2",
            ),
        ],
    )
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto("/admin")
        card = page.locator("#deploy-check")
        expect(
            card.get_by_role("heading", name="Runs at risk after the last deploy")
        ).to_be_visible()
        expect(card).to_contain_text("2 runs would break")
        expect(card).to_contain_text("test-hook v1")
        expect(card).to_contain_text("“write a long draft”")
        expect(card).to_contain_text("workflow 'content-generation' has no version 2")
        assert_fits(page)
    # Another user's run links to the admin's run list, filtered to it; the admin's own to the run.
    other_link = card.get_by_role("link", name=other)
    assert (
        other_link.get_attribute("href")
        == "/admin/runs?user=someone.else%40example.test&workflow=content-generation&status=sleeping"
    )
    card.get_by_role("link", name=mine).click()
    expect(page).to_have_url(re.compile(f"/workflows/{mine}$"))
