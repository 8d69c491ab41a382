"""Real chromium: the publishing review list in the run card — edit a post, change its time, then
approve — and the card saying what the run sleeps until, in the user's time zone."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from playwright.sync_api import Page, expect

from app.core.secrets_box import SecretBox
from tests.browser.test_dashboard_browser import in_thread, sign_up_enterprise, start
from tests.integration.publishing.conftest import SECRET, write_posts
from tests.integration.publishing.receiver import Receiver

ZONE = "America/New_York"


@pytest.fixture
def writer(model_server):
    model_server.reset()
    model_server.handler = write_posts
    yield model_server
    model_server.reset()


def add_connector(database_url, settings, user_id: int, url: str) -> None:
    from app.core.db import open_pool
    from app.steps.publishers.connectors import ConnectorForm, create_connector

    async def go():
        pool = await open_pool(database_url, min_size=1, max_size=1)
        try:
            async with pool.connection() as conn:
                await create_connector(
                    conn,
                    SecretBox(settings.secret_key),
                    user_id,
                    ConnectorForm(kind="webhook", name="blog", url=url, secret=SECRET),
                )
        finally:
            await pool.close()

    in_thread(go)


def wait_for_hook(database_url, run_id: str, name: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while not conn.execute(
            "SELECT 1 FROM hooks WHERE run_id = %s AND name = %s AND status = 'waiting'",
            (run_id, name),
        ).fetchone():
            assert time.monotonic() < deadline, f"no hook {name!r}"
            time.sleep(0.05)


def test_edit_a_post_change_its_time_then_approve(page: Page, database_url, model_settings, writer):
    user_id = sign_up_enterprise(page, database_url)
    with Receiver(secret=SECRET) as rx:
        add_connector(database_url, model_settings, user_id, rx.url)
        first = (datetime.now(UTC) + timedelta(days=1)).astimezone(ZoneInfo(ZONE))
        run_id = start(
            database_url,
            user_id,
            "scheduled-publishing",
            brief="Browser launch",
            connector="blog",
            posts=3,
            start_date=first.date().isoformat(),
            post_time="09:00",
            timezone=ZONE,
        )
        wait_for_hook(database_url, run_id, "review posts")
        page.goto(f"/publishing/{run_id}")
        card = page.locator(f"#run-{run_id}")
        expect(card.locator(".post")).to_have_count(3)
        expect(card.get_by_label("Text of post 2")).to_have_value("Post number 2 about the launch.")

        new_time = (first + timedelta(days=3)).replace(hour=17, minute=45)
        card.get_by_label("Text of post 2").fill("Rewritten in the browser")
        card.get_by_label("Time of post 2").fill(new_time.strftime("%Y-%m-%dT%H:%M"))
        card.get_by_role("button", name="Save post 2").click()
        # Now the latest post: it moves to the end of the list, with its new time.
        last = card.locator(".post").nth(2)
        expect(last.get_by_label("Text of post 3")).to_have_value("Rewritten in the browser")
        expect(last.locator(".post-when")).to_have_text(new_time.strftime("%a %-d %b, 17:45"))
        expect(last.locator(".post-in")).to_have_text(
            re.compile(r"^\(in \d+ (h|days)\)$")
        )  # how far off it is

        card.get_by_role("button", name="Move up post 3").click()
        expect(card.locator(".post").nth(1).get_by_label("Text of post 2")).to_have_value(
            "Rewritten in the browser"
        )

        with psycopg.connect(database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT body, publish_at FROM publishing_posts WHERE run_id = %s ORDER BY publish_at",
                (run_id,),
            ).fetchall()
        assert [r[0] for r in rows] == [
            "Post number 1 about the launch.",
            "Rewritten in the browser",
            "Post number 3 about the launch.",
        ]
        assert rows[2][1] == new_time.replace(
            second=0, microsecond=0
        )  # post 3 took the edited slot

        card.get_by_role("button", name="Approve schedule").click()
        expect(card.locator(".run-sleeping")).to_contain_text(
            re.compile(rf"Sleeping until {first.strftime('%a')} 09:00 \({re.escape(ZONE)}\)"),
            timeout=10_000,
        )
        expect(card.get_by_role("button", name="Cancel remaining posts")).to_be_visible()
        expect(card.get_by_role("button", name="Approve schedule")).to_have_count(0)
    assert rx.deliveries == []
