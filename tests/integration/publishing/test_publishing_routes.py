"""Over HTTP: the connectors settings page (secrets encrypted, shown once, validated, owner only)
and the schedule editor in the run card (edit, reschedule, reorder, delete, cancel the rest), with
CSRF on every form and 404 for anyone else."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.core.secrets_box import SecretBox
from app.engine.commands import cancel_run
from app.engine.hooks import resolve_hook
from tests.integration.publishing.conftest import (
    FINISH_S,
    SECRET,
    add_connector,
    first_slot,
    rows,
    wait_until,
)
from tests.integration.publishing.receiver import Receiver
from tests.integration.workflows.conftest import waiting_hook
from tests.integration.workflows.web import signed_in
from tests.support.engine import start, wait_status
from tests.support.web import htmx, token


async def test_connectors_page_encrypts_secrets_shows_a_generated_one_once(
    app_client, pool, model_settings
):
    assert (await app_client.get("/settings/connectors")).status_code in (
        302,
        303,
    )  # signed out: to /login
    _, user = await signed_in(app_client, pool)
    csrf = await token(app_client, "/settings/connectors")
    created = await app_client.post(
        "/settings/connectors",
        data={
            "kind": "webhook",
            "name": "blog",
            "url": "https://example.com/hook",
            "secret": "",
            "_csrf_token": csrf,
        },
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    shown = re.search(r'aria-label="Signing secret" data-select-on-focus', created.text)
    secret = re.search(r'value="([^"]+)" aria-label="Signing secret"', created.text).group(1)
    assert shown and len(secret) >= 40
    stored = (await rows(pool, "SELECT secret_enc FROM connectors WHERE owner_id = %s", user))[0][
        "secret_enc"
    ]
    assert secret not in stored and SecretBox(model_settings.secret_key).decrypt(stored) == secret
    page = await app_client.get("/settings/connectors")
    assert "blog" in page.text and secret not in page.text  # never shown again

    for bad, field_error in (
        ({"kind": "mastodon", "url": "https://m.example", "secret": ""}, "needs an access token"),
        ({"kind": "webhook", "url": "javascript:alert(1)"}, "http:// or https://"),
        ({"kind": "webhook", "url": "https://u:p@example.com/"}, "credentials"),
        ({"kind": "ftp", "url": "https://example.com"}, "webhook or Mastodon"),
        ({"kind": "webhook", "url": "https://example.com", "name": "blog"}, "already have"),
    ):
        answer = await app_client.post(
            "/settings/connectors", data={"name": "x", **bad, "_csrf_token": csrf}
        )
        assert answer.status_code == 422 and field_error in answer.text, bad
    no_csrf = await app_client.post(
        "/settings/connectors", data={"kind": "webhook", "name": "y", "url": "https://e.x"}
    )
    assert no_csrf.status_code == 403

    connector_id = (await rows(pool, "SELECT id FROM connectors WHERE owner_id = %s", user))[0][
        "id"
    ]
    await signed_in(app_client, pool)  # someone else
    other = await app_client.post(
        f"/settings/connectors/{connector_id}/delete",
        data={"_csrf_token": await token(app_client, "/settings/connectors")},
    )
    assert other.status_code == 404
    assert len(await rows(pool, "SELECT 1 FROM connectors WHERE id = %s", connector_id)) == 1


async def test_the_review_list_edits_reorders_deletes_and_reschedules(
    app_client, pool, worker, writer, model_settings
):
    _, user = await signed_in(app_client, pool)
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        slot = first_slot(3600) | {"timezone": "Europe/Paris"}
        run = await start(
            pool,
            user,
            "scheduled-publishing",
            brief="Launch",
            connector="webhook",
            posts=3,
            spacing="1d",
            **slot,
        )
        run_id = run.id
        hook = await waiting_hook(pool, run_id, "review posts")
        page = await app_client.get(f"/publishing/{run_id}")
        assert page.status_code == 200
        assert page.text.count('class="post-edit"') == 3 and "Approve schedule" in page.text
        posts = await rows(
            pool,
            "SELECT id, body, publish_at FROM publishing_posts WHERE run_id = %s ORDER BY publish_at",
            run_id,
        )
        csrf = await token(app_client, f"/publishing/{run_id}")

        new_time = (
            (datetime.now(UTC) + timedelta(days=5))
            .astimezone(ZoneInfo("Europe/Paris"))
            .replace(hour=18, minute=30, second=0, microsecond=0)
        )
        edited = await app_client.post(
            f"/publishing/{run_id}/posts/{posts[0]['id']}",
            headers=htmx(csrf),
            data={
                "body": "Edited <b>first</b>\x07 post",
                "publish_at": new_time.strftime("%Y-%m-%dT%H:%M"),
            },
        )
        assert edited.status_code == 200 and 'class="run-card' in edited.text
        assert "Edited &lt;b&gt;first&lt;/b&gt; post" in edited.text
        row = (
            await rows(
                pool, "SELECT body, publish_at FROM publishing_posts WHERE id = %s", posts[0]["id"]
            )
        )[0]
        assert row["body"] == "Edited <b>first</b> post" and row["publish_at"] == new_time

        past = await app_client.post(
            f"/publishing/{run_id}/posts/{posts[1]['id']}",
            headers=htmx(csrf),
            data={"body": "x", "publish_at": "2001-01-01T09:00"},
        )
        assert "pick a time in the future" in past.text

        moved = await app_client.post(
            f"/publishing/{run_id}/posts/{posts[2]['id']}/move",
            headers=htmx(csrf),
            data={"direction": "up"},
        )
        assert moved.status_code == 200
        order = await rows(
            pool,
            "SELECT id, publish_at FROM publishing_posts WHERE run_id = %s ORDER BY publish_at",
            run_id,
        )
        assert [r["id"] for r in order] == [posts[2]["id"], posts[1]["id"], posts[0]["id"]]
        assert (
            order[0]["publish_at"] == posts[1]["publish_at"]
        )  # the third post took the second one's slot

        deleted = await app_client.post(
            f"/publishing/{run_id}/posts/{posts[1]['id']}/delete", headers=htmx(csrf), data={}
        )
        assert deleted.status_code == 200 and deleted.text.count('class="post-edit"') == 2
        plain = await app_client.post(
            f"/publishing/{run_id}/posts/{posts[2]['id']}/move",
            data={"direction": "down", "_csrf_token": csrf},
        )
        assert plain.status_code == 303 and plain.headers["location"] == f"/publishing/{run_id}"
        version = (
            await rows(pool, "SELECT version FROM publishing_schedules WHERE run_id = %s", run_id)
        )[0]["version"]
        assert version == 5  # four edits

        async with pool.connection() as conn:
            await resolve_hook(conn, hook["token"], "approve", {}, owner_id=user)
        wait = await waiting_hook(pool, run_id)
        card = await app_client.get(f"/publishing/{run_id}")
        first = (
            await rows(
                pool,
                "SELECT publish_at FROM publishing_posts WHERE run_id = %s AND status = 'scheduled' "
                "ORDER BY publish_at LIMIT 1",
                run_id,
            )
        )[0]["publish_at"].astimezone(ZoneInfo("Europe/Paris"))
        label = first.strftime("%a %H:%M:%S" if first.second else "%a %H:%M")
        assert f"Sleeping until <strong>{label}</strong> (Europe/Paris)" in card.text
        assert wait["name"].startswith("post 1 of 2 at ")
        cancelled = await app_client.post(
            f"/publishing/{run_id}/cancel-remaining", headers=htmx(csrf), data={}
        )
        assert cancelled.status_code == 200
        done = await wait_status(pool, run_id, "completed", timeout=FINISH_S)
        assert done["output"]["published"] == 0 and done["output"]["totals"]["cancelled"] == 2
        after = await app_client.post(
            f"/publishing/{run_id}/posts/{posts[0]['id']}",
            headers=htmx(csrf),
            data={"body": "late", "publish_at": new_time.strftime("%Y-%m-%dT%H:%M")},
        )
        assert "nothing can be changed" in after.text

        await signed_in(app_client, pool)  # someone else sees nothing and changes nothing
        assert (await app_client.get(f"/publishing/{run_id}")).status_code == 404
        csrf = await token(app_client)
        for url in (
            f"/publishing/{run_id}/posts/{posts[0]['id']}/delete",
            f"/publishing/{run_id}/cancel-remaining",
        ):
            assert (await app_client.post(url, headers=htmx(csrf), data={})).status_code == 404
    assert rx.deliveries == []


async def test_a_schedule_starts_from_the_chat_form_and_its_card_shows_the_list(
    app_client, pool, worker, writer, model_settings
):
    from tests.integration.workflows.web import post_htmx, run_ids

    _, user = await signed_in(app_client, pool)
    await add_connector(
        pool, model_settings, user, "webhook", "https://example.com/hook", SECRET, name="blog"
    )
    form = await app_client.get(
        "/chat/workflows/scheduled-publishing", headers={"HX-Request": "true"}
    )
    assert (
        form.status_code == 200 and "First post on" in form.text and "Your time zone" in form.text
    )
    refused = await post_htmx(
        app_client,
        "/chat/workflows/scheduled-publishing",
        {
            "brief": "Chat launch",
            "connector": "blog",
            "start_date": "2030-01-07",
            "timezone": "Mars/Olympus",
        },
    )
    assert "Unknown time zone" in refused.text
    started = await post_htmx(
        app_client,
        "/chat/workflows/scheduled-publishing",
        {
            "brief": "Chat launch",
            "connector": "blog",
            "posts": "2",
            "start_date": "2030-01-07",
            "post_time": "09:30",
            "timezone": "Asia/Tokyo",
        },
    )
    page = await app_client.get(started.headers["HX-Location"])
    [run_id] = run_ids(page.text)
    await waiting_hook(pool, run_id, "review posts")
    card = await app_client.get(f"/chat/runs/{run_id}/card", headers={"HX-Request": "true"})
    assert (
        card.text.count('class="post-edit"') == 2
        and "Mon 7 Jan, 09:30" in card.text
        and "Asia/Tokyo" in card.text
    )


async def test_a_post_that_failed_says_failed_with_why_until_the_owner_decides(
    app_client, pool, worker, writer, model_settings
):
    _, user = await signed_in(app_client, pool)
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        rx.fail_next(400)  # refused: not retried, the owner is asked at once
        run = await start(
            pool,
            user,
            "scheduled-publishing",
            brief="Launch",
            connector="webhook",
            posts=1,
            metrics_after="1s",
            **first_slot(1),
        )
        async with pool.connection() as conn:
            await resolve_hook(
                conn,
                (await waiting_hook(pool, run.id, "review posts"))["token"],
                "approve",
                {},
                owner_id=user,
            )
        failed = await waiting_hook(pool, run.id, "post 1 failed", timeout=20)
        card = await app_client.get(f"/publishing/{run.id}")
        assert _badges(card) == [("failed", "Failed")]
        assert "refused with 400 Bad Request" in card.text

        async with pool.connection() as conn:  # retried: publishing again, then published
            await resolve_hook(conn, failed["token"], "retry", {}, owner_id=user)
        await wait_status(pool, run.id, "completed", timeout=FINISH_S)
        card = await app_client.get(f"/publishing/{run.id}")
        assert _badges(card) == [("published", "Published")]
        assert (
            "400" not in card.text.split('<ol class="post-list">', 1)[1].split("</ol>", 1)[0]
        )  # the error is gone
    assert len(rx.published) == 1


async def test_a_post_left_publishing_when_the_run_is_cancelled_says_not_published(
    app_client, pool, worker, writer, model_settings
):
    _, user = await signed_in(app_client, pool)
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        rx.fail_next(503, 503, 503)
        run = await start(
            pool,
            user,
            "scheduled-publishing",
            brief="Launch",
            connector="webhook",
            posts=1,
            metrics_after="1s",
            retry_delay="60s",
            **first_slot(1),
        )
        async with pool.connection() as conn:
            await resolve_hook(
                conn,
                (await waiting_hook(pool, run.id, "review posts"))["token"],
                "approve",
                {},
                owner_id=user,
            )
        await wait_until(lambda: _delivered(rx), timeout=20, what="the first attempt")
        await wait_status(pool, run.id, "sleeping", timeout=20)  # waiting for its retry
        async with pool.connection() as conn:
            await cancel_run(conn, run.id, owner_id=user)
        await wait_status(pool, run.id, "cancelled", timeout=20)
        card = await app_client.get(f"/publishing/{run.id}")
        assert _badges(card) == [("unpublished", "Not published")]


async def _delivered(rx):
    return len(rx.deliveries) >= 1


def _badges(card) -> list[tuple[str, str]]:
    """(state, badge text) of each post in the card's list."""
    return re.findall(
        r'<li class="post is-([\w-]+)".*?<span class="badge post-status">([^<]+)</span>',
        card.text,
        re.S,
    )
