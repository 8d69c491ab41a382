"""Approvals by email, through a real SMTP server (aiosmtpd, in this process): the link in the
mail shows the decision page, GET never decides, POST does once, a second POST says it was
already decided; the reminder goes out before the deadline; an expired link says so and the
review can be reopened from the next mail."""

from __future__ import annotations

import asyncio
import re
import time

from tests.integration.workflows.conftest import waiting_hook
from tests.support.engine import make_user, start, wait_status
from tests.support.web import csrf_of, log_in
from tests.support.web import make_user as make_account

LINK = re.compile(r"http://baton\.test(/review/[A-Za-z0-9_-]+)")


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def link_in(message) -> str:
    return LINK.search(text_of(message)).group(1)


async def hook_status(pool, hook_id) -> str:
    async with pool.connection() as conn:
        return (
            await (
                await conn.execute("SELECT status FROM hooks WHERE id = %s", (hook_id,))
            ).fetchone()
        )["status"]


async def test_the_mailed_link_shows_on_get_decides_on_post_once_and_a_reminder_comes(
    app_client, pool, worker, agents, smtp
):
    user = await make_user(pool, "pro")
    run = await start(
        pool,
        user,
        "content-generation",
        prompt="Quarterly summary",
        review_timeout="12s",
        remind_before="10s",
    )
    hook = await waiting_hook(pool, run.id, "review draft")
    [mail] = await smtp.wait_for("Review needed: Quarterly summary")
    assert mail["To"].endswith("@example.test") and "baton@baton.test" in mail["From"]
    assert mail.get_body(("html",)) is not None
    path = link_in(mail)
    assert path == f"/review/{hook['token']}"

    app_client.cookies.clear()  # the reviewer's browser, not logged in
    page = await app_client.get(path)
    assert page.status_code == 200
    assert (
        page.headers["referrer-policy"] == "no-referrer"
        and "no-store" in page.headers["cache-control"]
    )
    assert (
        "Review: Quarterly summary" in page.text and "The first draft of the document." in page.text
    )
    assert ">Approve</button>" in page.text and ">Request revision</button>" in page.text
    assert await hook_status(pool, hook["id"]) == "waiting"  # looking never decides
    await app_client.get(path)
    assert await hook_status(pool, hook["id"]) == "waiting"

    [reminder] = await smtp.wait_for("Reminder: review needed", timeout=6)
    assert link_in(reminder) == path

    csrf = csrf_of(page.text)
    no_csrf = await app_client.post(path, data={"action": "approve"})
    assert no_csrf.status_code == 403 and await hook_status(pool, hook["id"]) == "waiting"
    decided = await app_client.post(
        path, data={"_csrf_token": csrf, "action": "approve", "view": "page"}
    )
    assert decided.status_code == 200 and "Thank you: approved." in decided.text
    assert await hook_status(pool, hook["id"]) == "resolved"
    again = await app_client.post(
        path, data={"_csrf_token": csrf, "action": "reject", "view": "page"}
    )
    assert again.status_code == 409 and "already decided" in again.text
    done = await wait_status(pool, run.id, "completed")
    assert done["output"]["approved"] is True and done["output"]["decided_by"].endswith(
        "@example.test"
    )
    after = await app_client.get(path)
    assert (
        "This request was already decided: approved by" in after.text
        and ">Approve</button>" not in after.text
    )

    async with pool.connection() as conn:
        sent = await (
            await conn.execute(
                "SELECT kind, status FROM mail_outbox WHERE run_id = %s ORDER BY id", (run.id,)
            )
        ).fetchall()
    assert sent == [
        {"kind": "hook_waiting", "status": "sent"},
        {"kind": "hook_reminder", "status": "sent"},
    ]


async def test_an_expired_link_says_so_and_the_next_mail_reopens_the_review(
    app_client, pool, worker, agents, smtp
):
    user = await make_user(pool, "pro")
    run = await start(pool, user, "content-generation", prompt="Too slow", review_timeout="1s")
    first = await waiting_hook(pool, run.id, "review draft")
    [mail] = await smtp.wait_for("Review needed: Too slow")
    await waiting_hook(pool, run.id, "review expired", timeout=8)
    app_client.cookies.clear()
    page = await app_client.get(link_in(mail))
    assert (
        "This request expired before anyone answered it." in page.text
        and ">Approve</button>" not in page.text
    )
    late = await app_client.post(
        link_in(mail),
        data={"_csrf_token": csrf_of((await app_client.get("/login")).text), "action": "approve"},
    )
    assert late.status_code == 410 and "expired before it was answered" in late.text
    assert await hook_status(pool, first["id"]) == "expired"

    [expired_mail] = await smtp.wait_for("Review expired: Too slow")
    reopen_page = await app_client.get(link_in(expired_mail))
    assert ">Reopen review</button>" in reopen_page.text
    reopened = await app_client.post(
        link_in(expired_mail), data={"_csrf_token": csrf_of(reopen_page.text), "action": "reopen"}
    )
    assert reopened.status_code == 200 and "Thank you: reopened." in reopened.text
    fresh = await waiting_hook(pool, run.id, "review draft (reopened)")
    old, new = await smtp.wait_for("Review needed: Too slow", count=2)
    assert old is mail and link_in(new) == f"/review/{fresh['token']}"


async def test_without_smtp_the_mail_is_held_for_admins(app_client, pool, worker, agents):
    user = await make_user(pool, "pro")
    run = await start(pool, user, "content-generation", prompt="Nobody mails this")
    hook = await waiting_hook(pool, run.id, "review draft")
    deadline = time.monotonic() + 5
    while True:
        async with pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT id, status FROM mail_outbox WHERE hook_id = %s", (hook["id"],)
                )
            ).fetchone()
        if row["status"] == "held" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert row["status"] == "held"

    admin = await make_account(pool, is_admin=True)
    await log_in(app_client, admin.email)
    outbox = await app_client.get("/admin/outbox")
    assert (
        outbox.status_code == 200
        and "Review needed: Nobody mails this" in outbox.text
        and "held" in outbox.text
    )
    detail = await app_client.get(f"/admin/outbox/{row['id']}")
    assert f"/review/{hook['token']}" in detail.text
    someone = await make_account(pool)
    await log_in(app_client, someone.email)
    assert (await app_client.get("/admin/outbox")).status_code == 403
