"""The admin's setup status card: real checks against the scripted model server, a test mail that
arrives at a real SMTP server (aiosmtpd), worker heartbeats; admins only."""

from __future__ import annotations

import dataclasses
import html

import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient

from tests.integration.workflows.conftest import Inbox
from tests.support.fixtures import forget_ip_limits, make_test_llm
from tests.support.live_server import free_port
from tests.support.web import csrf_of, log_in, make_user, new_email


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


async def client_for(settings, database_url):
    from app.web.app import create_app

    forget_ip_limits(database_url)
    app = create_app(settings, database_url, run_worker=False, llm=make_test_llm(settings))
    client = AsyncTestClient(app)
    client.follow_redirects = False
    return client


def check(page: str, name: str) -> tuple[str, str]:
    """(state, detail) of one line of the card."""
    line = html.unescape(page.split(f'data-check="{name}"', 1)[1].split("</li>", 1)[0])
    state = line.split('data-state="', 1)[1].split('"', 1)[0]
    return state, line.split('class="setup-detail">', 1)[1].split("</span>", 1)[0]


async def as_admin(client, pool):
    admin = await make_user(pool, new_email("admin"), is_admin=True, tier="enterprise")
    assert (await log_in(client, admin.email)).status_code == 303
    return admin


async def test_the_card_reports_each_part_from_real_checks(
    model_settings, database_url, pool, model, worker
):
    async with await client_for(model_settings, database_url) as client:
        await as_admin(client, pool)
        page = await client.get("/admin/setup")
        assert page.status_code == 200
        state, detail = check(page.text, "Model endpoint")
        assert state == "ok" and "answered with 1 model(s)" in detail
        assert [r.path for r in model.requests if r.method == "GET"][-1].endswith(
            "/models"
        )  # a real request
        assert check(page.text, "Mail (SMTP)")[0] == "warn"  # no SMTP_URL in these settings
        assert check(page.text, "Backups") == (
            "unknown",
            "Not known to Baton: backups are taken outside the app.",
        )
        state, detail = check(page.text, "Workers")
        assert state == "ok" and "worker(s) alive" in detail
        assert check(page.text, "Code review sandbox")[0] in ("ok", "fail")  # as this machine is
        # Every problem links to the admin guide's page about it.
        assert 'href="/help/admin/setup">How to fix</a>' in page.text

        # The overview loads the card after the page.
        assert 'hx-get="/admin/setup"' in (await client.get("/admin")).text


async def test_an_unreachable_model_endpoint_is_a_problem(model_settings, database_url, pool):
    dead = dataclasses.replace(model_settings, openai_base_url=f"http://127.0.0.1:{free_port()}/v1")
    async with await client_for(dead, database_url) as client:
        await as_admin(client, pool)
        state, detail = check((await client.get("/admin/setup")).text, "Model endpoint")
        assert state == "fail" and "is not reachable" in detail


async def test_the_offline_model_is_named_as_such(settings, database_url, pool):
    async with await client_for(settings, database_url) as client:
        await as_admin(client, pool)
        state, detail = check((await client.get("/admin/setup")).text, "Model endpoint")
        assert state == "warn" and detail.startswith("Offline demo model")


async def test_a_test_mail_arrives_through_the_real_mail_path(
    model_settings, database_url, pool, model, smtp_server
):
    inbox, smtp_url = smtp_server
    configured = dataclasses.replace(
        model_settings, smtp_url=smtp_url, mail_from="baton@baton.test"
    )
    async with await client_for(configured, database_url) as client:
        admin = await as_admin(client, pool)
        page = await client.get("/admin/setup")
        sent = await client.post("/admin/setup/test-mail", data={"_csrf_token": csrf_of(page.text)})
        assert sent.status_code == 200
        assert f"Sent to {admin.email}" in html.unescape(sent.text)
        [mail] = await inbox.wait_for("Baton test mail")
        assert mail["To"] == admin.email and "Baton's mail works" in mail.get_content()
        async with pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT status FROM mail_outbox WHERE kind = 'test' AND to_addr = %s",
                    (admin.email,),
                )
            ).fetchone()
        assert row["status"] == "sent"  # through the outbox, like every other mail


async def test_a_failing_smtp_server_is_reported(model_settings, database_url, pool, model):
    dead = dataclasses.replace(model_settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    async with await client_for(dead, database_url) as client:
        await as_admin(client, pool)
        page = await client.get("/admin/setup")
        sent = await client.post("/admin/setup/test-mail", data={"_csrf_token": csrf_of(page.text)})
        assert sent.status_code == 200 and "failed: ConnectionRefusedError" in html.unescape(
            sent.text
        )


async def test_setup_status_is_for_admins_only(model_settings, database_url, pool, model):
    async with await client_for(model_settings, database_url) as client:
        assert (await client.get("/admin/setup")).status_code in (302, 303)  # to the login page
        member = await make_user(pool, new_email("member"), tier="pro")
        await log_in(client, member.email)
        assert (await client.get("/admin/setup")).status_code == 403
        csrf = csrf_of((await client.get("/chat/")).text)
        assert (
            await client.post("/admin/setup/test-mail", data={"_csrf_token": csrf})
        ).status_code == 403
