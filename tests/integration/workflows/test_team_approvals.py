"""Approvals that reach people, over HTTP: a review assigned to "any admin" of a team is decided by
admins and owners (each in their own inbox, whatever space they are working in), refused to a
member (403, with the reason) and a viewer, not found by outsiders (404); a review assigned to a
person's e-mail reaches their inbox, badge and bell live; the e-mail link still decides for
someone without an account; and the run page lists each decision with who and when."""

from __future__ import annotations

import re

import httpx
import pytest

from app.engine.commands import start_run
from app.engine.hooks import resolve_hook
from tests.integration.workflows.conftest import waiting_hook
from tests.integration.workflows.test_email_approvals import link_in
from tests.integration.workflows.test_notification_settings import bell_of
from tests.support.engine import effects, wait_status
from tests.support.fixtures import make_test_llm
from tests.support.live_server import LiveServer
from tests.support.team_runs import use_space
from tests.support.teams import make_team_of
from tests.support.web import csrf_of, log_in, new_email
from tests.support.web import make_user as make_account


async def start_review(pool, owner_id: int, space_id: int | None = None, **input) -> dict:
    async with pool.connection() as conn:
        run, _ = await start_run(
            conn, owner_id=owner_id, workflow="test-team-review", input=input, space_id=space_id
        )
    return await waiting_hook(pool, run.id, "team review")


async def decide(client, hook_id: int, action: str = "approve") -> httpx.Response:
    page = await client.get(f"/approvals/{hook_id}")
    csrf = (
        csrf_of(page.text)
        if "_csrf_token" in page.text
        else csrf_of((await client.get("/chat")).text)
    )
    return await client.post(f"/approvals/{hook_id}", data={"_csrf_token": csrf, "action": action})


@pytest.fixture
async def team(pool):
    people = {
        role: await make_account(pool, tier="pro")
        for role in ("owner", "admin", "member", "viewer")
    }
    space = await make_team_of(pool, {people[r].id: r for r in people}, name="Acme")
    return {"space": space, **people}


async def test_any_admin_admits_admins_and_owners_refuses_a_member_and_hides_from_outsiders(
    app_client, pool, worker, team
):
    hook = await start_review(
        pool, team["owner"].id, team["space"]["id"], assign_role="admin", required=2
    )
    outsider = await make_account(pool)
    url = f"/approvals/{hook['id']}"

    assert (await log_in(app_client, outsider.email)).status_code == 303
    assert (await app_client.get(url)).status_code == 404
    csrf = csrf_of((await app_client.get("/chat")).text)
    refused = await app_client.post(url, data={"_csrf_token": csrf, "action": "approve"})
    assert refused.status_code == 404

    assert (await log_in(app_client, team["member"].email)).status_code == 303
    assert "team review" not in (await app_client.get("/approvals")).text
    page = await app_client.get(url)
    assert (
        page.status_code == 200
        and "This is for any admin of Acme; you are a member there." in page.text
    )
    assert 'name="action"' not in page.text  # no form for someone who may not decide
    member = await decide(app_client, hook["id"])
    assert member.status_code == 403 and "you are a member there" in member.text

    assert (await log_in(app_client, team["viewer"].email)).status_code == 303
    viewer = await decide(app_client, hook["id"])
    assert viewer.status_code == 403 and "viewers read runs and decide nothing" in viewer.text

    assert (await log_in(app_client, team["admin"].email)).status_code == 303
    inbox = await app_client.get("/approvals")
    assert f'id="approval-{hook["id"]}"' in inbox.text and "For any admin of Acme" in inbox.text
    assert "0 of 2 approvals" in inbox.text
    first = await decide(app_client, hook["id"])
    assert first.status_code == 303
    after = await app_client.get(url)
    assert "You answered this. It waits for the others: 1 of 2 approvals." in after.text
    assert f'id="approval-{hook["id"]}"' not in (await app_client.get("/approvals")).text
    again = await app_client.post(
        url,
        data={"_csrf_token": csrf_of((await app_client.get("/chat")).text), "action": "approve"},
    )
    assert again.status_code == 409 and "one answer each" in again.text

    assert (await log_in(app_client, team["owner"].email)).status_code == 303
    assert (await decide(app_client, hook["id"])).status_code == 303
    await wait_status(pool, hook["run_id"], "completed")
    assert [e["name"] for e in await effects(pool, hook["run_id"])] == ["after review"]

    await use_space(pool, team["owner"].id, team["space"]["id"])  # the run page is the team's
    run_page = await app_client.get(f"/workflows/{hook['run_id']}")
    assert run_page.status_code == 200
    deciders = re.findall(
        r'class="wf-decider">([^<]+)</strong> <time[^>]*>[^<]+</time>, (\d) of 2', run_page.text
    )
    assert deciders == [(team["admin"].email, "1"), (team["owner"].email, "2")]
    async with pool.connection() as conn:
        audit = await (
            await conn.execute(
                "SELECT actor_email FROM audit_log WHERE action = 'hook.decide' AND object_id = %s ORDER BY id",
                (str(hook["id"]),),
            )
        ).fetchall()
    assert [a["actor_email"] for a in audit] == [team["admin"].email, team["owner"].email]


async def test_a_person_assigned_by_email_decides_it_and_the_owner_may_not(
    app_client, pool, worker
):
    owner, boss = await make_account(pool, tier="pro"), await make_account(pool, tier="pro")
    hook = await start_review(pool, owner.id, assignee=boss.email.upper())
    assert "approval_needed" in await bell_of(pool, boss.id)
    assert "approval_needed" not in await bell_of(pool, owner.id)

    assert (await log_in(app_client, owner.email)).status_code == 303
    refused = await decide(app_client, hook["id"])
    assert refused.status_code == 403 and f"This is assigned to {boss.email}." in refused.text

    assert (await log_in(app_client, boss.email)).status_code == 303
    nav = await app_client.get("/notifications/nav")
    assert 'aria-label="1 waiting">1</span>' in nav.text
    assert f'id="approval-{hook["id"]}"' in (await app_client.get("/approvals")).text
    assert (await decide(app_client, hook["id"])).status_code == 303
    done = await wait_status(pool, hook["run_id"], "completed")
    assert done["output"] == {"action": "approve", "decided_by": boss.email}


async def test_the_email_link_still_decides_for_someone_without_an_account(
    app_client, pool, worker, smtp
):
    owner = await make_account(pool, tier="pro")
    outside = new_email("reviewer")
    hook = await start_review(pool, owner.id, assignee=outside)
    [mail] = await smtp.wait_for("Review needed")
    assert mail["To"] == outside
    app_client.cookies.clear()
    page = await app_client.get(link_in(mail))
    assert page.status_code == 200
    posted = await app_client.post(
        link_in(mail), data={"_csrf_token": csrf_of(page.text), "action": "approve"}
    )
    assert posted.status_code == 200 and "Thank you: approved." in posted.text
    done = await wait_status(pool, hook["run_id"], "completed")
    assert done["output"]["decided_by"] == outside
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT user_id, decided_by FROM hook_decisions WHERE hook_id = %s", (hook["id"],)
            )
        ).fetchone()
    assert row == {"user_id": None, "decided_by": outside}


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


async def test_an_assignment_reaches_the_assignees_open_page_live(pool, worker, live_web):
    owner, admin = await make_account(pool, tier="pro"), await make_account(pool, tier="pro")
    space = await make_team_of(pool, {owner.id: "owner", admin.id: "admin"})
    async with httpx.AsyncClient(base_url=live_web.url, timeout=10) as browser:
        assert (await log_in(browser, admin.email)).status_code == 303
        async with browser.stream("GET", "/live", params={"page": "/approvals"}) as stream:
            lines = stream.aiter_lines()
            while (await anext(lines)) != "event: resync":
                pass
            hook = await start_review(pool, owner.id, space["id"], assign_role="admin")
            while (await anext(lines)) != "event: approvals":
                pass
            nav = await browser.get("/notifications/nav")
            assert 'aria-label="1 waiting">1</span>' in nav.text
            assert "Approval needed" in nav.text  # the bell
            rows = await browser.get(
                "/approvals", params={"rows": "true"}, headers={"HX-Request": "true"}
            )
            assert f'id="approval-{hook["id"]}"' in rows.text
            # Decided by the team's owner: the admin's page hears it no longer waits for them.
            async with pool.connection() as conn:
                await resolve_hook(
                    conn, hook["token"], "approve", decided_by=owner.email, user_id=owner.id
                )
            while (await anext(lines)) != "event: approvals":
                pass
            assert 'aria-label="0 waiting"' in (await browser.get("/notifications/nav")).text


async def test_a_role_review_is_mailed_to_each_member_at_that_role_with_a_sign_in_link(
    pool, worker, smtp, team
):
    hook = await start_review(pool, team["owner"].id, team["space"]["id"], assign_role="admin")
    mails = await smtp.wait_for("Review needed", count=2)
    assert sorted(m["To"] for m in mails) == sorted([team["owner"].email, team["admin"].email])
    for mail in mails:
        body = mail.get_body(("plain",)).get_content()
        assert f"http://baton.test/approvals/{hook['id']}" in body
        assert hook["token"] not in body  # each signs in and counts as themselves
    for person, rings in (("owner", True), ("admin", True), ("member", False), ("viewer", False)):
        assert ("approval_needed" in await bell_of(pool, team[person].id)) is rings
