"""The workflows dashboard and run detail: filters, search, pages, cancel, retry, authorization."""

import re

from tests.support.engine import start, wait_status
from tests.support.web import csrf_of, log_in, make_user, new_email


async def signed_in(app_client, pool):
    user = await make_user(pool, new_email("dash"), tier="enterprise")
    assert (await log_in(app_client, user.email)).status_code == 303
    return user


async def test_runs_list_filters_searches_and_pages(app_client, pool, worker):
    user = await signed_in(app_client, pool)
    done = await start(pool, user.id, "selftest", steps=1)
    waiting = await start(pool, user.id, "test-hook")
    await wait_status(pool, done.id, "completed")
    await wait_status(pool, waiting.id, "waiting")
    page = await app_client.get("/workflows")
    assert page.status_code == 200
    assert str(done.id) in page.text and str(waiting.id) in page.text
    assert "Waiting for: approve it" in page.text
    only_waiting = await app_client.get("/workflows?status=waiting")
    assert str(waiting.id) in only_waiting.text and str(done.id) not in only_waiting.text
    searched = await app_client.get("/workflows?q=self-te")
    assert str(done.id) in searched.text and str(waiting.id) not in searched.text
    rows = await app_client.get("/workflows?fragment=rows", headers={"HX-Request": "true"})
    assert "<html" not in rows.text and str(done.id) in rows.text
    for _ in range(26):
        await start(pool, user.id, "test-hook")
    first = await app_client.get("/workflows")
    older = (
        re.search(r'href="(/workflows\?[^"]*cursor=[^"]+)"', first.text)
        .group(1)
        .replace("&amp;", "&")
    )
    second = await app_client.get(older)
    assert str(done.id) in second.text and str(done.id) not in first.text


async def test_an_empty_dashboard_says_where_to_start_one(app_client, pool):
    await signed_in(app_client, pool)
    page = (await app_client.get("/workflows")).text
    assert '<a href="/chat">Start one from a chat</a>' in page
    filtered = (await app_client.get("/workflows?status=failed")).text
    assert '<a href="/workflows">Show every run</a>' in filtered


async def test_a_waiting_runs_page_links_to_its_review(app_client, pool, worker):
    user = await signed_in(app_client, pool)
    waiting = await start(pool, user.id, "test-hook")
    await wait_status(pool, waiting.id, "waiting")
    page = (await app_client.get(f"/workflows/{waiting.id}")).text
    review = re.search(r'<a class="[^"]*" href="(/approvals/\d+)">Review</a>', page)
    assert review, page[page.find("run-status-line") :][:600]
    assert "approve it" in (await app_client.get(review.group(1))).text


async def test_run_detail_shows_steps_hooks_and_events(app_client, pool, worker):
    user = await signed_in(app_client, pool)
    run = await start(pool, user.id, "test-usage")
    await wait_status(pool, run.id, "completed")
    page = await app_client.get(f"/workflows/{run.id}")
    assert page.status_code == 200
    for text in (
        "plain",
        "model",
        "2000 → 1000",
        "$0.0150",
        "Event log",
        "step_completed",
        "Completed",
    ):
        assert text in page.text, (text, page.text[page.text.find("Event log") :][:1500])


async def test_another_users_run_is_not_found_everywhere(app_client, pool, worker):
    owner = await make_user(pool, new_email("owner"), tier="enterprise")
    run = await start(pool, owner.id, "test-hook")
    await wait_status(pool, run.id, "waiting")
    await signed_in(app_client, pool)
    csrf = csrf_of((await app_client.get("/workflows")).text)
    assert (await app_client.get(f"/workflows/{run.id}")).status_code == 404
    assert (await app_client.get(f"/workflows/{run.id}/cancel")).status_code == 404
    for action in ("cancel", "retry"):
        response = await app_client.post(
            f"/workflows/{run.id}/{action}", data={"_csrf_token": csrf}
        )
        assert response.status_code == 404
    assert (await wait_status(pool, run.id, "waiting"))["status"] == "waiting"


async def test_cancel_and_retry_from_the_detail_page(app_client, pool, worker):
    user = await signed_in(app_client, pool)
    run = await start(pool, user.id, "test-hook")
    await wait_status(pool, run.id, "waiting")
    confirm = await app_client.get(f"/workflows/{run.id}/cancel")
    assert "Cancel run" in confirm.text
    response = await app_client.post(
        f"/workflows/{run.id}/cancel", data={"_csrf_token": csrf_of(confirm.text)}
    )
    assert response.status_code == 303
    assert (await wait_status(pool, run.id, "cancelled"))["status"] == "cancelled"
    again = await app_client.post(
        f"/workflows/{run.id}/cancel", data={"_csrf_token": csrf_of(confirm.text)}
    )
    assert again.status_code == 409 and "already cancelled" in again.text

    failed = await start(pool, user.id, "test-errors", mode="exhausted")
    await wait_status(pool, failed.id, "failed")
    page = await app_client.get(f"/workflows/{failed.id}")
    assert "Retry from failed step" in page.text
    retried = await app_client.post(
        f"/workflows/{failed.id}/retry",
        data={"_csrf_token": csrf_of(page.text)},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(page.text)},
    )
    assert retried.status_code == 200 and 'id="run-body"' in retried.text
    await wait_status(pool, failed.id, "failed")  # fails again, from the failed step


async def test_cancel_without_csrf_is_refused(app_client, pool, worker):
    user = await signed_in(app_client, pool)
    run = await start(pool, user.id, "test-hook")
    await wait_status(pool, run.id, "waiting")
    response = await app_client.post(f"/workflows/{run.id}/cancel", data={})
    assert response.status_code == 403
    assert (await wait_status(pool, run.id, "waiting"))["status"] == "waiting"


async def test_run_detail_lists_the_runs_files_for_download(app_client, pool, worker):
    user = await signed_in(app_client, pool)
    run = await start(pool, user.id, "test-artifact")
    done = await wait_status(pool, run.id, "completed")
    page = await app_client.get(f"/workflows/{run.id}")
    assert f'href="/artifacts/{done["output"]}"' in page.text and "notes.txt" in page.text
    download = await app_client.get(f"/artifacts/{done['output']}")
    assert download.status_code == 200 and download.content == b"hello"
