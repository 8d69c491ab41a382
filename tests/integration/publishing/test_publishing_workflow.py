"""The scheduled-publishing workflow on a real worker, a scripted model and a local receiver:
posts go out at their times, signed, once each; retries, the failure decision, edits while the
run waits, engagement and the report."""

from __future__ import annotations

import subprocess
from datetime import datetime

from app.engine.hooks import resolve_hook
from tests.integration.publishing.conftest import (
    FINISH_S,
    SECRET,
    TOKEN,
    add_connector,
    rows,
    start_schedule,
    wait_until,
)
from tests.integration.publishing.receiver import Receiver
from tests.integration.workflows.conftest import waiting_hook
from tests.support.engine import make_user, wait_status


async def decide(pool, hook, action, **data):
    async with pool.connection() as conn:
        return await resolve_hook(conn, hook["token"], action, data, decided_by="tester")


async def test_posts_go_out_at_their_times_signed_once_then_the_report(
    pool, worker, writer, model_settings
):
    user = await make_user(pool, "pro")
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        run = await start_schedule(pool, user, posts=3, ahead=4, spacing="2s")
        review = await waiting_hook(pool, run.id, "review posts")
        assert review["actions"] == ["approve", "reject"]
        await decide(pool, review, "approve")
        done = await wait_status(pool, run.id, "completed", timeout=FINISH_S)

    posts = await rows(
        pool, "SELECT * FROM publishing_posts WHERE run_id = %s ORDER BY publish_at", run.id
    )
    assert [p["status"] for p in posts] == ["published"] * 3
    assert rx.bad_signatures == 0
    assert len(rx.deliveries) == 3 and len(rx.published) == 3  # each post once
    for post, sent in zip(posts, sorted(rx.published.values(), key=lambda p: p["at"]), strict=True):
        assert sent["text"] == post["body"]
        late = sent["at"] - post["publish_at"].timestamp()
        assert -0.05 <= late < 2.0, f"published {late:.2f}s after its time"
    keys = [d["key"] for d in rx.deliveries]
    assert all(k.startswith(f"{run.id}:") for k in keys) and len(set(keys)) == 3
    assert rx.deliveries[0]["body"]["idempotency_key"] == keys[0]

    output = done["output"]
    assert output["published"] == 3 and output["totals"]["shares"] == 6
    assert len(rx.metrics_requests) == 1
    files = await rows(
        pool,
        "SELECT name, content_type, data FROM artifacts WHERE run_id = %s ORDER BY name",
        run.id,
    )
    assert [f["content_type"] for f in files] == ["text/html; charset=utf-8", "application/pdf"]
    html = bytes(files[0]["data"]).decode()
    assert "Post number 2 about the launch." in html and "<script" not in html
    text = subprocess.run(  # noqa: ASYNC221
        ["pdftotext", "-", "-"],
        input=bytes(files[1]["data"]),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "Weekly report" in text and "Post number 3 about the launch." in text
    # Waiting between posts is visible as a wait until each post's time.
    steps = [
        s["name"]
        for s in await rows(
            pool, "SELECT name FROM run_steps WHERE run_id = %s ORDER BY seq", run.id
        )
    ]
    assert any(name.startswith("post 1 of 3 at ") for name in steps)
    assert "wait for engagement" in steps and "write report" in steps


async def test_a_500_then_200_is_retried_with_the_same_key(pool, worker, writer, model_settings):
    user = await make_user(pool, "pro")
    with Receiver(token=TOKEN) as rx:
        await add_connector(pool, model_settings, user, "mastodon", rx.base, TOKEN, name="masto")
        rx.fail_next(500)
        run = await start_schedule(pool, user, posts=1, ahead=1, connector="masto")
        await decide(pool, await waiting_hook(pool, run.id, "review posts"), "approve")
        await wait_status(pool, run.id, "completed", timeout=FINISH_S)
    assert [d["key"] for d in rx.deliveries] == [rx.deliveries[0]["key"]] * 2  # retried, same key
    assert len(rx.published) == 1
    step = (
        await rows(
            pool,
            "SELECT attempts, status FROM run_steps WHERE run_id = %s AND name = 'publish post 1'",
            run.id,
        )
    )[0]
    assert step == {"attempts": 2, "status": "completed"}
    events = await rows(
        pool, "SELECT kind FROM run_events WHERE run_id = %s AND kind = 'step_retrying'", run.id
    )
    assert len(events) == 1
    post = (
        await rows(
            pool,
            "SELECT remote_id, remote_url, metrics FROM publishing_posts WHERE run_id = %s",
            run.id,
        )
    )[0]
    assert post["remote_id"] == "1" and post["remote_url"].startswith("https://")
    assert post["metrics"]["shares"] == 1  # fetched from GET /api/v1/statuses/1


async def test_when_retries_run_out_the_owner_skips_and_the_schedule_goes_on(
    pool, worker, writer, model_settings
):
    user = await make_user(pool, "pro")
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        rx.fail_next(503, 503, 503)
        run = await start_schedule(pool, user, posts=2, ahead=1, spacing="1s")
        await decide(pool, await waiting_hook(pool, run.id, "review posts"), "approve")
        failed = await waiting_hook(pool, run.id, "post 1 failed", timeout=20)
        assert failed["actions"] == ["retry", "skip", "cancel"]
        assert "503" in failed["show"]["content"]
        await decide(pool, failed, "skip")
        done = await wait_status(pool, run.id, "completed", timeout=FINISH_S)
    statuses = [
        r["status"]
        for r in await rows(
            pool,
            "SELECT status FROM publishing_posts WHERE run_id = %s ORDER BY publish_at",
            run.id,
        )
    ]
    assert statuses == ["skipped", "published"]
    assert done["output"]["published"] == 1 and done["output"]["skipped"] == 1


async def test_edits_while_waiting_take_effect_at_once(pool, worker, writer, model_settings):
    from app.steps.publishers import schedule as S

    user = await make_user(pool, "pro")
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        run = await start_schedule(pool, user, posts=3, ahead=3600, spacing="1h")
        await decide(pool, await waiting_hook(pool, run.id, "review posts"), "approve")
        wait = await waiting_hook(pool, run.id)
        assert wait["name"].startswith("post 1 of 3 at ") and wait["kind"] == "webhook"
        posts = await rows(
            pool, "SELECT id FROM publishing_posts WHERE run_id = %s ORDER BY publish_at", run.id
        )
        async with pool.connection() as conn:
            soon = datetime.fromtimestamp(datetime.now().timestamp() + 1).astimezone()
            await S.edit_post(
                conn,
                run_id=run.id,
                owner_id=user,
                post_id=posts[1]["id"],
                body="Edited second post",
                publish_at=soon,
            )
        await wait_until(lambda: _published(rx), what="the edited post")
        assert [p["text"] for p in rx.published.values()] == ["Edited second post"]
        async with pool.connection() as conn:
            assert await S.cancel_remaining_by_owner(conn, run_id=run.id, owner_id=user) == 2
        done = await wait_status(pool, run.id, "completed", timeout=FINISH_S)
    assert done["output"]["published"] == 1 and done["output"]["totals"]["cancelled"] == 2
    versions = [
        r["output"]["version"]
        for r in await rows(
            pool,
            "SELECT output FROM run_steps WHERE run_id = %s AND name LIKE 'read schedule%%' ORDER BY seq",
            run.id,
        )
    ]
    assert (
        versions == sorted(versions) and versions[-1] > versions[0]
    )  # each pass journals the version it read


async def _published(rx):
    return len(rx.published) >= 1


async def test_after_a_failure_the_owner_can_retry_or_cancel_the_rest(
    pool, worker, writer, model_settings
):
    user = await make_user(pool, "pro")
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        rx.fail_next(500, 500, 500)
        run = await start_schedule(pool, user, posts=1, ahead=1)
        await decide(pool, await waiting_hook(pool, run.id, "review posts"), "approve")
        await decide(pool, await waiting_hook(pool, run.id, "post 1 failed", timeout=20), "retry")
        done = await wait_status(pool, run.id, "completed", timeout=FINISH_S)
        assert done["output"]["published"] == 1 and len(rx.published) == 1
        steps = [
            s["name"]
            for s in await rows(
                pool, "SELECT name FROM run_steps WHERE run_id = %s ORDER BY seq", run.id
            )
        ]
        assert "publish post 1" in steps and "publish post 1 (try 2)" in steps

        rx.fail_next(400)  # a refusal is not retried: the owner is asked at once
        run = await start_schedule(pool, user, posts=3, ahead=1, spacing="1h")
        await decide(pool, await waiting_hook(pool, run.id, "review posts"), "approve")
        failed = await waiting_hook(pool, run.id, "post 1 failed", timeout=20)
        assert "refused with 400" in failed["show"]["content"]
        await decide(pool, failed, "cancel")
        done = await wait_status(pool, run.id, "completed", timeout=FINISH_S)
    assert done["output"]["published"] == 0 and done["output"]["totals"]["cancelled"] == 3
