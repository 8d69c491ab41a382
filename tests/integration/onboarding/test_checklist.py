"""The first-run checklist ticks itself as a new account really does each step, through the real
routes and a real worker on the offline demo model; dismissing it is remembered."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from app.core.llm import LLM
from tests.support.fixtures import forget_ip_limits, model_runtime
from tests.support.waiting import wait_for
from tests.support.web import (
    csrf_of,
    htmx,
    log_in,
    make_user,
    new_email,
    sign_up,
    start_chat,
    token,
)

ITEM = re.compile(r'data-done="(yes|no)">\s*<span[^>]*>[^<]*</span>\s*<a href="[^"]*">([^<]+)</a>')


def checklist(html: str) -> dict[str, bool] | None:
    if 'id="checklist"' not in html:
        return None
    return {label: done == "yes" for done, label in ITEM.findall(html)}


@pytest.fixture
async def offline_client(settings, database_url, pool):
    """The app on the offline demo model (no OPENAI_BASE_URL), as a fresh install runs it."""
    from app.web.app import create_app

    await make_user(
        pool, new_email("first")
    )  # the install's first account is its admin; ours are not

    assert settings.offline_model
    forget_ip_limits(database_url)
    async with model_runtime(settings):  # the worker's steps use the offline model too
        app = create_app(
            settings,
            database_url,
            run_worker=False,
            llm=LLM.from_settings(settings, offline_delay=0),
        )
        async with AsyncTestClient(app) as client:
            client.follow_redirects = False
            yield client


async def state(client) -> dict[str, bool] | None:
    """The checklist as the new-chat page shows it (the page fetches it from /onboarding/checklist)."""
    page = await client.get("/chat/")
    assert page.status_code == 200 and 'hx-get="/onboarding/checklist"' in page.text
    fragment = await client.get("/onboarding/checklist", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    return checklist(fragment.text)


async def test_the_checklist_ticks_each_step_as_a_new_account_does_it(offline_client, pool, worker):
    client = offline_client
    account = await make_user(pool, new_email("newcomer"), tier="pro")
    email = account.email
    await log_in(client, email)
    assert await state(client) == {
        "Start a chat": False,
        "Run a reviewed report": False,
        "Approve it": False,
        "Download the PDF": False,
    }

    conversation_id, _ = await start_chat(client, "What is Baton?")
    assert (await state(client))["Start a chat"] is True

    started = await client.post(
        f"/chat/{conversation_id}/messages",
        data={"content": "/report tidal energy"},
        headers=htmx(await token(client)),
    )
    assert started.status_code == 200, started.text
    assert (await state(client))["Run a reviewed report"] is True
    assert (await state(client))["Approve it"] is False

    async def waiting_hook():
        async with pool.connection() as conn:
            return await (
                await conn.execute(
                    "SELECT h.id FROM hooks h JOIN users u ON u.id = h.owner_id JOIN runs r ON r.id = h.run_id "
                    "WHERE u.email = %s AND h.status = 'waiting' AND r.status = 'waiting'",
                    (email,),
                )
            ).fetchone()

    hook = await wait_for(waiting_hook, timeout=30, what="the report to wait for its review")
    review = await client.get(f"/approvals/{hook['id']}")
    decided = await client.post(
        f"/approvals/{hook['id']}", data={"action": "approve", "_csrf_token": csrf_of(review.text)}
    )
    assert decided.status_code == 303, decided.text
    assert (await state(client))["Approve it"] is True

    async def pdf():
        async with pool.connection() as conn:
            return await (
                await conn.execute(
                    "SELECT a.id FROM artifacts a JOIN users u ON u.id = a.owner_id "
                    "WHERE u.email = %s AND a.content_type = 'application/pdf'",
                    (email,),
                )
            ).fetchone()

    artifact = await wait_for(pdf, timeout=60, what="the approved report's PDF")
    assert (await state(client))["Download the PDF"] is False  # produced is not downloaded
    download = await client.get(f"/artifacts/{artifact['id']}")
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
    assert await state(client) == {
        "Start a chat": True,
        "Run a reviewed report": True,
        "Approve it": True,
        "Download the PDF": True,
    }
    assert "4 of 4 done" in (await client.get("/onboarding/checklist")).text


async def test_a_download_by_someone_else_ticks_nothing(offline_client, pool):
    # Another account asking for the file gets 404 and does not mark it downloaded.
    owner = await make_user(pool, new_email("owner"), tier="pro")
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "INSERT INTO artifacts (owner_id, name, content_type, size, data) VALUES (%s, 'a.pdf', "
                "'application/pdf', 5, '%%PDF-') RETURNING id",
                (owner.id,),
            )
        ).fetchone()
    await sign_up(offline_client)
    assert (await offline_client.get(f"/artifacts/{row['id']}")).status_code == 404
    async with pool.connection() as conn:
        seen = await (
            await conn.execute(
                "SELECT first_downloaded_at FROM artifacts WHERE id = %s", (row["id"],)
            )
        ).fetchone()
    assert seen["first_downloaded_at"] is None


async def test_dismissing_the_checklist_is_remembered_across_sessions(offline_client, pool):
    account = await make_user(pool, new_email("dismiss"), tier="pro")
    await log_in(offline_client, account.email)
    page = await offline_client.get("/chat/")
    assert await state(offline_client) is not None

    dismissed = await offline_client.post(
        "/onboarding/dismiss", data={"_csrf_token": csrf_of(page.text)}
    )
    assert dismissed.status_code == 303
    assert await state(offline_client) is None

    await log_in(offline_client, account.email)  # a new session, as on another device
    assert await state(offline_client) is None


async def test_admins_also_see_the_setup_items(offline_client, pool):
    admin = await make_user(pool, new_email("admin"), is_admin=True, tier="enterprise")
    await log_in(offline_client, admin.email)
    items = await state(offline_client)
    # The offline demo model and no SMTP_URL: both still to do.
    assert items["Connect a model endpoint"] is False and items["Connect SMTP for mail"] is False


async def test_a_plan_without_workflow_runs_is_told_so_instead_of_sent_to_a_refusing_form(
    offline_client, pool
):
    account = await make_user(pool, new_email("free"), tier="free")
    await log_in(offline_client, account.email)
    items = await state(offline_client)
    assert "Run a reviewed report" not in items
    assert items["Your plan (Free) has no workflow runs: ask an admin for one that has"] is False


async def test_dismissing_needs_a_session_and_a_csrf_token(offline_client):
    assert (await offline_client.post("/onboarding/dismiss")).status_code in (302, 303, 401, 403)
    await sign_up(offline_client)
    assert (await offline_client.post("/onboarding/dismiss")).status_code == 403
