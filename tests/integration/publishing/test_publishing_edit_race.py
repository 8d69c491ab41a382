"""An edit committed after the run read the schedule but before its wait began (the moment an edit
used to miss: there was no hook to resolve yet, so the run slept until the old time) takes effect
at once. The edit is committed exactly there: the test wraps `Run.hook` in the in-process worker
and commits the edit on its own connection just before the run asks for its wake-up hook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.engine.hooks import resolve_hook
from app.engine.run import Run
from app.steps.publishers import schedule as S
from tests.integration.publishing.conftest import (
    FINISH_S,
    SECRET,
    add_connector,
    rows,
    start_schedule,
    wait_until,
)
from tests.integration.publishing.receiver import Receiver
from tests.integration.workflows.conftest import waiting_hook
from tests.support.engine import make_user, wait_status


@pytest.fixture
def before_the_wait(monkeypatch):
    """A list of edits: each runs once, in the worker, between a schedule read and the wait after it."""
    edits: list = []
    original = Run.hook

    async def hook(self, name, kind="approval", **options):
        if kind == "webhook" and edits:
            await edits.pop(0)()
        return await original(self, name, kind, **options)

    monkeypatch.setattr(Run, "hook", hook)
    return edits


async def _approved_run(pool, model_settings, rx):
    """A run of three posts an hour apart (the first an hour away), approved; and its post ids."""
    user = await make_user(pool, "pro")
    await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
    run = await start_schedule(pool, user, posts=3, ahead=3600, spacing="1h")
    review = await waiting_hook(pool, run.id, "review posts")
    posts = [
        p["id"]
        for p in await rows(
            pool, "SELECT id FROM publishing_posts WHERE run_id = %s ORDER BY publish_at", run.id
        )
    ]
    return user, run, review, posts


async def _approve(pool, review):
    async with pool.connection() as conn:
        await resolve_hook(conn, review["token"], "approve", {}, decided_by="tester")


async def test_remaining_posts_cancelled_just_before_the_wait_end_the_run_at_once(
    pool, worker, writer, model_settings, before_the_wait
):
    with Receiver(secret=SECRET) as rx:
        user, run, review, _ = await _approved_run(pool, model_settings, rx)
        cancelled = []

        async def cancel():
            async with pool.connection() as conn:
                cancelled.append(
                    await S.cancel_remaining_by_owner(conn, run_id=run.id, owner_id=user)
                )

        before_the_wait.append(cancel)
        await _approve(pool, review)
        done = await wait_status(pool, run.id, "completed", timeout=FINISH_S)
    assert cancelled == [3] and not before_the_wait  # the edit ran, at that moment
    assert done["output"]["published"] == 0 and done["output"]["totals"]["cancelled"] == 3
    assert rx.published == {}


async def test_a_post_moved_to_now_just_before_the_wait_goes_out_now(
    pool, worker, writer, model_settings, before_the_wait
):
    with Receiver(secret=SECRET) as rx:
        user, run, review, posts = await _approved_run(pool, model_settings, rx)

        async def edit():
            async with pool.connection() as conn:
                await S.edit_post(
                    conn,
                    run_id=run.id,
                    owner_id=user,
                    post_id=posts[2],
                    body="Moved up",
                    publish_at=datetime.now(UTC) + timedelta(seconds=1),
                )

        before_the_wait.append(edit)
        await _approve(pool, review)
        await wait_until(lambda: _published(rx), timeout=20, what="the moved post to go out")
        assert not before_the_wait
        assert [p["text"] for p in rx.published.values()] == ["Moved up"]
        # The run now waits for the next post at its own time, not for the one it had read.
        wait = await waiting_hook(pool, run.id)
        assert wait["name"].startswith("post 2 of 3 at ")


async def test_a_post_deleted_just_before_the_wait_is_not_waited_for(
    pool, worker, writer, model_settings, before_the_wait
):
    with Receiver(secret=SECRET) as rx:
        user, run, review, posts = await _approved_run(pool, model_settings, rx)

        async def delete():
            async with pool.connection() as conn:
                await S.delete_post(conn, run_id=run.id, owner_id=user, post_id=posts[0])

        before_the_wait.append(delete)
        await _approve(pool, review)
        wait = await waiting_hook(pool, run.id)
        assert not before_the_wait
        # What the owner sees on the run: the wait is for the first of the two posts left.
        assert wait["name"].startswith("post 1 of 2 at ")
        steps = await rows(
            pool,
            "SELECT name, status, output FROM run_steps WHERE run_id = %s AND kind = 'hook' "
            "ORDER BY seq",
            run.id,
        )
        assert (
            steps[1]["name"].startswith("post 1 of 3 at ")
            and steps[1]["output"]["not_needed"] is True
        )
        assert rx.published == {}


async def _published(rx):
    return len(rx.published) >= 1
