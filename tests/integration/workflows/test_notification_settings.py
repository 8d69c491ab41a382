"""Fewer e-mails, over a real SMTP server (aiosmtpd) and real HTTP: each person's settings decide
what is mailed, nobody is mailed about a run they have open on a live page, the daily digest goes
out once a day, and the unsubscribe link of a received mail works without logging in."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.core import runtime
from app.core.notify_prefs import prefs_for
from app.core.unsubscribe import unsubscribe_url
from app.workflows import notices
from app.workflows.digest import send_due_digests
from tests.integration.workflows.conftest import waiting_hook
from tests.integration.workflows.test_email_approvals import text_of
from tests.support.engine import start
from tests.support.fixtures import make_test_llm
from tests.support.live_server import LiveServer
from tests.support.web import csrf_of, htmx, log_in
from tests.support.web import make_user as make_account

UNSUBSCRIBE = re.compile(r"http://baton\.test(/unsubscribe/[A-Za-z0-9._-]+)")


async def outbox_of(pool, run_id) -> list[dict]:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT kind, status FROM mail_outbox WHERE run_id = %s ORDER BY id", (run_id,)
            )
        ).fetchall()


async def bell_of(pool, user_id) -> list[str]:
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT kind FROM notifications WHERE user_id = %s ORDER BY id", (user_id,)
            )
        ).fetchall()
    return [row["kind"] for row in rows]


async def save_settings(client, csrf: str, **changes: str) -> httpx.Response:
    form = {
        "_csrf_token": csrf,
        "email_review_needed": "each",
        "email_reminder": "each",
        "email_run_finished": "off",
        "email_run_failed": "off",
        "in_app_review_needed": "on",
        "in_app_reminder": "on",
        "in_app_run_finished": "on",
        "in_app_run_failed": "on",
    }
    form.update(changes)
    return await client.post(
        "/settings/notifications", data={k: v for k, v in form.items() if v is not None}
    )


async def new_chat(pool, user_id: int) -> int:
    async with pool.connection() as conn:
        return (
            await (
                await conn.execute(
                    "INSERT INTO conversations (user_id, title) VALUES (%s, 'Work') RETURNING id",
                    (user_id,),
                )
            ).fetchone()
        )["id"]


async def start_in_chat(pool, user_id: int, chat_id: int, prompt: str) -> dict:
    from app.engine.commands import start_run

    async with pool.connection() as conn:
        run, _ = await start_run(
            conn,
            owner_id=user_id,
            workflow="content-generation",
            input={"prompt": prompt},
            chat_id=chat_id,
        )
    return run


async def wait_until(condition, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := await condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return result


# -- the settings form -------------------------------------------------------------------------


async def test_the_settings_form_round_trips_and_refuses_bad_input(app_client, pool):
    account = await make_account(pool, tier="pro")
    other = await make_account(pool)
    await log_in(app_client, account.email)
    page = await app_client.get("/settings/notifications")
    assert page.status_code == 200
    # Today's behaviour by default: reviews and reminders by e-mail, everything in the bell.
    assert re.search(r'name="email_review_needed">\s*<option value="each" selected>', page.text)
    assert re.search(r'name="email_run_finished">.*?<option value="off" selected>', page.text, re.S)
    assert 'name="in_app_run_failed" checked' in page.text

    assert (
        await save_settings(app_client, "not-the-token", email_review_needed="off")
    ).status_code == 403
    bad = await save_settings(app_client, csrf_of(page.text), email_review_needed="weekly")
    assert bad.status_code == 422
    assert "Input should be" in bad.text
    async with pool.connection() as conn:
        assert (await prefs_for(conn, account.id))[
            "review_needed"
        ].email == "each"  # nothing half-saved

    saved = await save_settings(
        app_client,
        csrf_of(page.text),
        email_review_needed="digest",
        email_run_failed="each",
        in_app_run_finished=None,
    )
    assert (
        saved.status_code == 303
        and saved.headers["location"] == "/settings/notifications?saved=true"
    )
    again = await app_client.get(saved.headers["location"])
    assert "Saved." in again.text
    assert re.search(
        r'name="email_review_needed">.*?<option value="digest" selected>', again.text, re.S
    )
    assert re.search(r'name="email_run_failed">.*?<option value="each" selected>', again.text, re.S)
    assert (
        'name="in_app_run_finished" checked' not in again.text
        and 'name="in_app_run_failed" checked' in again.text
    )
    # The time zone is set in one place (Display); this page names it and links there.
    assert 'href="/settings/display"' in again.text and 'name="time_zone"' not in again.text

    fragment = await save_settings(app_client, csrf_of(again.text), email_review_needed="off")
    assert fragment.status_code == 303  # a plain form; the HTMX one gets the fragment back:
    swapped = await app_client.post(
        "/settings/notifications",
        headers=htmx(csrf_of(again.text)),
        data={
            "email_review_needed": "off",
            "email_reminder": "off",
            "email_run_finished": "off",
            "email_run_failed": "off",
        },
    )
    assert swapped.status_code == 200 and "<html" not in swapped.text and "Saved." in swapped.text
    async with pool.connection() as conn:
        mine, theirs = await prefs_for(conn, account.id), await prefs_for(conn, other.id)
    assert (
        mine["reminder"].email == "off" and not mine["review_needed"].in_app
    )  # unticked boxes are off
    assert theirs["review_needed"].email == "each" and theirs["review_needed"].in_app

    app_client.cookies.clear()
    assert (await app_client.get("/settings/notifications")).status_code in (302, 303)


# -- settings decide what is mailed ------------------------------------------------------------


async def test_with_review_mail_off_no_mail_is_sent_and_the_bell_still_rings(
    app_client, pool, worker, agents, smtp
):
    account = await make_account(pool, tier="pro")
    await log_in(app_client, account.email)
    csrf = csrf_of((await app_client.get("/settings/notifications")).text)
    assert (await save_settings(app_client, csrf, email_review_needed="off")).status_code == 303

    run = await start(pool, account.id, "content-generation", prompt="Quiet please")
    await waiting_hook(pool, run.id, "review draft")
    # The mail decision is made in the transaction that starts the wait: by now it is final.
    assert await outbox_of(pool, run.id) == []
    assert "approval_needed" in await bell_of(pool, account.id)
    assert not [m for m in smtp.messages if "Quiet please" in m["Subject"]]


async def test_a_run_that_finishes_is_mailed_only_to_who_asked_for_it(
    app_client, pool, worker, agents, smtp
):
    account = await make_account(pool, tier="pro")
    await log_in(app_client, account.email)
    csrf = csrf_of((await app_client.get("/settings/notifications")).text)
    await save_settings(app_client, csrf, email_review_needed="off", email_run_finished="each")
    run = await start(pool, account.id, "content-generation", prompt="Tell me when done")
    hook = await waiting_hook(pool, run.id, "review draft")
    review = await app_client.get(f"/review/{hook['token']}")
    decided = await app_client.post(
        f"/review/{hook['token']}",
        data={"_csrf_token": csrf_of(review.text), "action": "approve", "view": "page"},
    )
    assert decided.status_code == 200
    [mail] = await smtp.wait_for(f"Completed: {run.title}", timeout=15)
    assert "completed." in text_of(mail) and f"/workflows/{run.id}" in text_of(mail)
    assert mail["List-Unsubscribe"].startswith("<http://baton.test/unsubscribe/")
    assert [row["kind"] for row in await outbox_of(pool, run.id)] == ["run_finished"]


# -- presence: no mail about what you are looking at --------------------------------------------


@pytest.fixture
async def live_web(model_settings, database_url):
    from app.web.app import create_app

    server = LiveServer(
        create_app(
            model_settings, database_url, run_worker=False, llm=make_test_llm(model_settings)
        )
    ).start()
    yield server
    server.stop()


async def presence_rows(pool, user_id) -> list[dict]:
    async with pool.connection() as conn:
        return await (
            await conn.execute("SELECT page, seen_at FROM presence WHERE user_id = %s", (user_id,))
        ).fetchall()


async def rechecked_while_present(pool, hook_id) -> bool:
    """A recheck ran, found the person still there and asked again later (finished jobs are
    deleted, so the sign is the next one's longer wait)."""
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) AS n FROM procrastinate_jobs WHERE task_name = 'baton.notice_recheck' "
                "AND (args->>'hook_id')::bigint = %s AND (args->>'wait_s')::float > 0.5",
                (hook_id,),
            )
        ).fetchone()
    return row["n"] > 0


async def test_no_review_mail_while_the_chat_is_open_on_a_live_page_and_one_once_it_is_closed(
    live_web, pool, worker, agents, smtp, monkeypatch
):
    monkeypatch.setattr(notices, "RECHECK_S", 0.5)  # look again soon (2 min in production)
    monkeypatch.setattr(notices, "RECHECK_MAX_S", 2.0)
    account = await make_account(pool, tier="pro")
    chat_id = await new_chat(pool, account.id)
    async with httpx.AsyncClient(base_url=live_web.url, timeout=10) as browser:
        assert (await log_in(browser, account.email)).status_code == 303
        async with browser.stream("GET", "/live", params={"page": f"/chat/{chat_id}"}) as stream:
            lines = stream.aiter_lines()
            while (await anext(lines)) != "event: resync":
                pass
            assert [row["page"] for row in await presence_rows(pool, account.id)] == [
                f"/chat/{chat_id}"
            ]

            watched = await start_in_chat(pool, account.id, chat_id, "Watched closely")
            hook = await waiting_hook(pool, watched.id, "review draft")
            assert await outbox_of(pool, watched.id) == []  # looking at it: no mail
            assert "approval_needed" in await bell_of(
                pool, account.id
            )  # the card and the bell show it
            # Looked at again while the page is still open: still no mail.
            await wait_until(
                lambda: rechecked_while_present(pool, hook["id"]), "a recheck of the held-back mail"
            )
            assert await outbox_of(pool, watched.id) == []

            elsewhere = await start(pool, account.id, "content-generation", prompt="Not on screen")
            await waiting_hook(pool, elsewhere.id, "review draft")
            await smtp.wait_for(
                "Review needed: Not on screen"
            )  # a run that page does not show is mailed

        # The tab is closed: the stream's row goes, and the next review is mailed.
        await wait_until(lambda: _no_rows(pool, account.id), "the closed stream's presence to go")
        # Left without deciding: the held-back review is mailed at the next look.
        [held_back] = await smtp.wait_for("Review needed: Watched closely", timeout=20)
        assert f"/review/{hook['token']}" in text_of(held_back)
        after = await start_in_chat(pool, account.id, chat_id, "After closing")
        await waiting_hook(pool, after.id, "review draft")
        [mail] = await smtp.wait_for("Review needed: After closing")
        assert mail["To"] == account.email


async def _no_rows(pool, user_id) -> bool:
    return not await presence_rows(pool, user_id)


async def test_presence_left_behind_by_a_dead_process_expires(pool, worker, agents, smtp):
    account = await make_account(pool, tier="pro")
    chat_id = await new_chat(pool, account.id)
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO presence (stream_id, user_id, page, seen_at) "
            "VALUES (gen_random_uuid(), %s, %s, now() - interval '2 minutes')",
            (account.id, f"/chat/{chat_id}"),
        )
    run = await start_in_chat(pool, account.id, chat_id, "Stale presence")
    await waiting_hook(pool, run.id, "review draft")
    await smtp.wait_for("Review needed: Stale presence")


# -- the daily digest ----------------------------------------------------------------------------


async def test_the_digest_collects_the_days_notices_and_goes_out_once_per_local_day(
    app_client, pool, worker, agents, smtp
):
    account = await make_account(pool, tier="pro")
    await log_in(app_client, account.email)
    csrf = csrf_of((await app_client.get("/settings/notifications")).text)
    await save_settings(app_client, csrf, email_review_needed="digest")
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE users SET time_zone = 'Pacific/Auckland' WHERE id = %s", (account.id,)
        )
    first = await start(pool, account.id, "content-generation", prompt="Digest one")
    second = await start(pool, account.id, "content-generation", prompt="Digest two")
    await waiting_hook(pool, first.id, "review draft")
    await waiting_hook(pool, second.id, "review draft")
    assert await outbox_of(pool, first.id) == [] and await outbox_of(pool, second.id) == []

    # 18:00 UTC is 07:00 next morning in Auckland (NZDT, +13): not yet; 20:00 UTC is 09:00 there.
    early, due = datetime(2026, 12, 4, 18, 0, tzinfo=UTC), datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    async with pool.connection() as conn:
        await send_due_digests(conn, early)
    async with pool.connection() as a, pool.connection() as b:  # two workers at the same moment
        await asyncio.gather(send_due_digests(a, due), send_due_digests(b, due))
    async with pool.connection() as conn:
        await send_due_digests(conn, due)
    [digest] = await smtp.wait_for("Your Baton digest for 5 Dec 2026: 2 notices")
    body = text_of(digest)
    assert (
        "Review needed: Digest one" in body
        and "Review needed: Digest two" in body
        and "Pacific/Auckland" in body
    )
    assert (
        UNSUBSCRIBE.search(body) and digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    )
    async with pool.connection() as conn:
        days = await (
            await conn.execute("SELECT day FROM mail_digests WHERE user_id = %s", (account.id,))
        ).fetchall()
    assert [row["day"].isoformat() for row in days] == ["2026-12-05"]

    # A notice after today's digest waits for tomorrow's.
    third = await start(pool, account.id, "content-generation", prompt="Digest three")
    await waiting_hook(pool, third.id, "review draft")
    async with pool.connection() as conn:
        await send_due_digests(conn, due)
        await send_due_digests(conn, datetime(2026, 12, 5, 19, 30, tzinfo=UTC))
    [tomorrow] = await smtp.wait_for("Your Baton digest for 6 Dec 2026: 1 notice")
    assert "Digest three" in text_of(tomorrow) and "Digest one" not in text_of(tomorrow)
    assert len([m for m in smtp.messages if m["Subject"].startswith("Your Baton digest")]) == 2


async def test_a_digest_turned_off_before_it_went_out_sends_nothing(
    app_client, pool, worker, agents, smtp
):
    account = await make_account(pool, tier="pro")
    await log_in(app_client, account.email)
    csrf = csrf_of((await app_client.get("/settings/notifications")).text)
    await save_settings(app_client, csrf, email_review_needed="digest")
    run = await start(pool, account.id, "content-generation", prompt="Never digested")
    await waiting_hook(pool, run.id, "review draft")
    settings = runtime.current().settings
    app_client.cookies.clear()
    off = await app_client.post(
        unsubscribe_url(settings, account.id, "digest").removeprefix(settings.base_url)
    )
    assert off.status_code == 200 and "The daily digest" in off.text
    async with pool.connection() as conn:
        assert await send_due_digests(conn, datetime(2026, 12, 4, 12, 0, tzinfo=UTC)) == 0
        pending = await (
            await conn.execute(
                "SELECT count(*) AS n FROM digest_items WHERE user_id = %s", (account.id,)
            )
        ).fetchone()
        assert (await prefs_for(conn, account.id))["review_needed"].email == "off"
    assert pending["n"] == 0


# -- unsubscribe -----------------------------------------------------------------------------------


async def test_the_unsubscribe_link_of_a_received_mail_works_without_a_session_and_only_for_its_kind(
    app_client, pool, worker, agents, smtp
):
    account = await make_account(pool, tier="pro")
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET time_zone = 'Asia/Tokyo' WHERE id = %s", (account.id,))
    run = await start(pool, account.id, "content-generation", prompt="Unsubscribe me")
    hook = await waiting_hook(pool, run.id, "review draft")
    [mail] = await smtp.wait_for("Review needed: Unsubscribe me")
    tokyo = hook["expires_at"].astimezone(ZoneInfo("Asia/Tokyo")).strftime("%-d %b %Y, %H:%M")
    assert f"Decide before {tokyo} JST." in text_of(mail)  # dates in the recipient's zone
    path = UNSUBSCRIBE.search(text_of(mail)).group(1)
    assert mail["List-Unsubscribe"] == f"<http://baton.test{path}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert path in mail.get_body(("html",)).get_content()

    app_client.cookies.clear()  # a mail client, or a browser that never logged in
    forged = [
        path.replace("review_needed", "run_failed"),  # another kind, same signature
        path.replace(f"/{account.id}.", f"/{account.id + 1}."),  # another user
        path[:-1] + ("A" if path[-1] != "A" else "B"),  # a changed signature
        f"/unsubscribe/{account.id}.review_needed.",
        "/unsubscribe/garbage",
    ]
    for bad in forged:
        page = await app_client.get(bad)
        assert page.status_code == 404 and "not valid" in page.text, bad
        refused = await app_client.post(
            bad,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert refused.status_code == 404, bad
    confirm = await app_client.get(path)
    assert (
        confirm.status_code == 200
        and account.email in confirm.text
        and ">Unsubscribe</button>" in confirm.text
    )
    assert (
        confirm.headers["referrer-policy"] == "no-referrer"
        and "no-store" in confirm.headers["cache-control"]
    )
    async with pool.connection() as conn:
        assert (await prefs_for(conn, account.id))[
            "review_needed"
        ].email == "each"  # GET changes nothing

    # RFC 8058 one-click: a POST with that body, no cookie, no CSRF token.
    done = await app_client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    async with pool.connection() as conn:
        prefs = await prefs_for(conn, account.id)
    assert prefs["review_needed"].email == "off" and prefs["review_needed"].in_app
    assert (
        prefs["reminder"].email == "each" and prefs["run_failed"].email == "off"
    )  # nothing else changed
    assert (await app_client.post(path)).status_code == 200  # twice is harmless

    # The review link of the same mail still works, and the next review is not mailed.
    assert (
        await app_client.get(
            re.search(r"http://baton\.test(/review/[A-Za-z0-9_-]+)", text_of(mail)).group(1)
        )
    ).status_code == 200
    later = await start(pool, account.id, "content-generation", prompt="After unsubscribing")
    await waiting_hook(pool, later.id, "review draft")
    assert await outbox_of(pool, later.id) == []
