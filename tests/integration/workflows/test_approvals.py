"""Approvals over HTTP: the inline card decision, the inbox and its count, the review page, feedback
required for a revision, a decision applied exactly once, and nothing visible to anyone else."""

from __future__ import annotations

from tests.integration.workflows.conftest import waiting_hook
from tests.integration.workflows.web import post_htmx, run_ids, signed_in
from tests.support.engine import wait_status
from tests.support.web import csrf_of, htmx, sign_up, token


async def start_review(client, pool, prompt="Reviewed thing") -> tuple[str, dict]:
    response = await post_htmx(client, "/chat/workflows/content-generation", {"prompt": prompt})
    page = await client.get(response.headers["HX-Location"])
    [run_id] = run_ids(page.text)
    return run_id, await waiting_hook(pool, run_id, "review draft")


async def test_decide_in_the_card_revision_needs_feedback_and_a_second_click_changes_nothing(
    app_client, pool, worker, agents
):
    await signed_in(app_client, pool)
    run_id, hook = await start_review(app_client, pool)
    csrf = await token(app_client)
    url = f"/approvals/{hook['id']}"

    missing = await app_client.post(
        url, data={"view": "card", "action": "revise", "feedback": " "}, headers=htmx(csrf)
    )
    assert missing.status_code == 422
    assert (
        f'id="hook-{hook["id"]}-feedback-error" role="alert">Write what should change'
        in missing.text
    )
    assert 'class="run-card' in missing.text  # the card again, with the error next to the field

    revised = await app_client.post(
        url,
        data={"view": "card", "action": "revise", "feedback": "More numbers"},
        headers=htmx(csrf),
    )
    assert (
        revised.status_code == 200
        and "Waiting for: <strong>review draft</strong>" not in revised.text
    )
    assert "revision requested by" in revised.text
    second = await waiting_hook(pool, run_id, "review revision 1")
    assert "applying: More numbers" in second["show"]["content"]

    again = await app_client.post(
        url, data={"view": "card", "action": "approve"}, headers=htmx(csrf)
    )
    assert again.status_code == 200
    assert (
        "This was already decided: already decided (revise)" in again.text
        and "Nothing was changed" in again.text
    )
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT status, action FROM hooks WHERE id = %s", (hook["id"],))
        ).fetchone()
    assert row == {"status": "resolved", "action": "revise"}
    bogus = await app_client.post(
        f"/approvals/{second['id']}", data={"view": "card", "action": "explode"}, headers=htmx(csrf)
    )
    assert bogus.status_code == 422 and "Choose one of the buttons." in bogus.text


async def test_inbox_lists_waiting_hooks_with_a_count_and_a_review_page(
    app_client, pool, worker, agents
):
    await signed_in(app_client, pool)
    run_id, hook = await start_review(app_client, pool, "Inbox item")
    inbox = await app_client.get("/approvals")
    assert inbox.status_code == 200
    assert (
        "Reviewed content" in inbox.text
        and "Inbox item" in inbox.text
        and "review draft" in inbox.text
    )
    assert (
        "just now" in inbox.text and "in 24 h" in inbox.text
    )  # relative times (app/core/local_time.py)
    assert f'href="/approvals/{hook["id"]}"' in inbox.text
    nav = await app_client.get("/notifications/nav", headers={"HX-Request": "true"})
    assert (
        'id="approvals-badge" class="nav-count" hx-swap-oob="true"' in nav.text
        and ">1</span>" in nav.text
    )
    assert (
        "Approval needed: Inbox item (review draft)" in nav.text
        and 'class="bell-count">1<' in nav.text
    )

    review = await app_client.get(f"/approvals/{hook['id']}")
    assert "Review: Inbox item" in review.text and "The first draft of the document." in review.text
    # The page says what it is.
    assert '<h1 class="decision-heading">Review: Inbox item' in review.text
    form = {"_csrf_token": csrf_of(review.text), "view": "page", "action": "approve"}
    decided = await app_client.post(f"/approvals/{hook['id']}", data=form)
    assert decided.status_code == 303 and decided.headers["location"] == f"/approvals/{hook['id']}"
    after = await app_client.get(f"/approvals/{hook['id']}")
    assert (
        "This request was already decided: approved by" in after.text
        and '<form method="post" action="/approvals' not in after.text
    )
    twice = await app_client.post(f"/approvals/{hook['id']}", data=form)
    assert twice.status_code == 409 and "already decided" in twice.text
    await wait_status(pool, run_id, "completed")
    rows = await app_client.get("/approvals?rows=true", headers={"HX-Request": "true"})
    assert "Nothing is waiting for you." in rows.text


async def test_another_user_gets_404_for_the_hook_the_review_page_and_the_files(
    app_client, pool, worker, agents
):
    await signed_in(app_client, pool)
    run_id, hook = await start_review(app_client, pool, "Owner only")
    await app_client.post(
        f"/approvals/{hook['id']}",
        data={"view": "card", "action": "approve"},
        headers=htmx(await token(app_client)),
    )
    done = await wait_status(pool, run_id, "completed")
    pdf_id = done["output"]["artifacts"]["pdf"]
    own = await app_client.get(f"/artifacts/{pdf_id}")
    assert own.status_code == 200 and own.content.startswith(b"%PDF-")
    assert (
        own.headers["content-type"] == "application/pdf"
        and "attachment" in own.headers["content-disposition"]
    )

    await sign_up(app_client)
    csrf = await token(app_client)
    assert (await app_client.get(f"/approvals/{hook['id']}")).status_code == 404
    assert (
        await app_client.post(
            f"/approvals/{hook['id']}", data={"action": "approve"}, headers=htmx(csrf)
        )
    ).status_code == 404
    assert (await app_client.get(f"/artifacts/{pdf_id}")).status_code == 404
    assert (await app_client.get(f"/chat/runs/{run_id}/card")).status_code == 404
    assert (await app_client.get("/review/not-the-token")).status_code == 404
    assert "Owner only" not in (await app_client.get("/approvals")).text
    app_client.cookies.clear()
    assert (await app_client.get(f"/artifacts/{pdf_id}")).status_code in (
        302,
        303,
    )  # to the login page


async def test_an_expired_review_shows_reopen_in_the_card_and_reopens_with_a_fresh_deadline(
    app_client, pool, worker, agents
):
    await signed_in(app_client, pool)
    response = await post_htmx(
        app_client,
        "/chat/workflows/content-generation",
        {"prompt": "Slow reviewer", "review_timeout": "1s"},
    )
    page = await app_client.get(response.headers["HX-Location"])
    [run_id] = run_ids(page.text)
    expired = await waiting_hook(pool, run_id, "review expired", timeout=8)
    card = (await app_client.get(f"/chat/runs/{run_id}/card", headers={"HX-Request": "true"})).text
    assert 'class="run-status run-status-expired">Review expired<' in card
    assert "The review of “Slow reviewer” expired" in card and ">Reopen review</button>" in card
    assert ">Approve</button>" not in card and ">Cancel run</button>" in card
    assert 'data-state="expired"' in card
    inbox = await app_client.get("/approvals")
    assert "review expired" in inbox.text and 'class="is-expired"' in inbox.text

    reopened = await app_client.post(
        f"/approvals/{expired['id']}",
        data={"view": "card", "action": "reopen"},
        headers=htmx(await token(app_client)),
    )
    assert reopened.status_code == 200
    assert "reopened by" in reopened.text  # the card answered with the decision recorded
    fresh = await waiting_hook(pool, run_id, "review draft (reopened)")
    assert fresh["token"] != expired["token"] and fresh["expires_at"] > expired["created_at"]


async def test_the_expired_review_page_offers_the_cancel_it_promises_and_reopen_leads_to_the_new_review(
    app_client, pool, worker, agents
):
    await signed_in(app_client, pool)
    response = await post_htmx(
        app_client,
        "/chat/workflows/content-generation",
        {"prompt": "Page reviewer", "review_timeout": "1s"},
    )
    page = await app_client.get(response.headers["HX-Location"])
    [run_id] = run_ids(page.text)
    expired = await waiting_hook(pool, run_id, "review expired", timeout=8)

    review = await app_client.get(f"/approvals/{expired['id']}")
    assert ">Reopen review</button>" in review.text
    assert "cancel the run" in review.text  # the note promises it, and the page has it
    assert f'href="/workflows/{run_id}/cancel">Cancel the run</a>' in review.text

    csrf = await token(app_client)
    reopened = await app_client.post(
        f"/approvals/{expired['id']}", data={"action": "reopen", "_csrf_token": csrf}
    )
    assert reopened.status_code == 303
    fresh = await waiting_hook(pool, run_id, "review draft (reopened)")
    after = await app_client.get(reopened.headers["location"], follow_redirects=True)
    assert "already decided" not in after.text
    assert str(after.url).endswith(f"/approvals/{fresh['id']}")
    assert ">Approve</button>" in after.text and "Review: Page reviewer" in after.text
