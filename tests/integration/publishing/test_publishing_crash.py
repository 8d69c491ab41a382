"""Exactly-once publishing across a crash: a real `baton worker` is SIGKILLed right after its
publish call reached the receiver (before the answer and the journal entry). The next worker runs
the step again with the same idempotency key, and the receiver, honouring it, publishes nothing new."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from app.core.db import open_pool
from app.core.migrations import apply_migrations
from app.core.secrets_box import SecretBox
from app.engine.hooks import resolve_hook
from app.steps.publishers.connectors import ConnectorForm, create_connector
from tests.integration.engine import workflows as test_workflows
from tests.integration.engine.test_engine_crash import Workers, recover_after_kill
from tests.integration.publishing.conftest import FINISH_S, SECRET, first_slot, rows
from tests.integration.publishing.receiver import Receiver
from tests.integration.workflows.conftest import waiting_hook
from tests.support.engine import make_user, start, wait_status

pytestmark = pytest.mark.slow
CRASH_KEY = "crash-test-secret-key"  # the key Workers gives its `baton worker` processes


@pytest.fixture
async def crash_env(fresh_database, tmp_path):
    url = fresh_database("baton_pubcrash")
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(test_workflows.EFFECTS)
    pool = await open_pool(url, min_size=1, max_size=6)
    workers = Workers(
        url, tmp_path, BATON_CONNECTOR_ALLOW="127.0.0.1"
    )  # the receiver, as an admin allows it
    try:
        yield pool, workers, await make_user(pool, "pro")
    finally:
        workers.stop_all()
        await pool.close()


async def test_sigkill_right_after_the_publish_call_publishes_each_post_once(crash_env):
    pool, workers, user = crash_env
    with Receiver(secret=SECRET) as rx:
        async with pool.connection() as conn:
            await create_connector(
                conn,
                SecretBox(CRASH_KEY),
                user,
                ConnectorForm(kind="webhook", name="webhook", url=rx.url, secret=SECRET),
            )
        proc = workers.start()
        run = await start(
            pool,
            user,
            "scheduled-publishing",
            brief="Crash-proof launch",
            connector="webhook",
            posts=3,
            spacing="1s",
            metrics_after="1s",
            retry_delay="1s",
            **first_slot(6),
        )
        review = await waiting_hook(pool, run.id, "review posts", timeout=30)
        rx.hold_next(3.0)  # post 1: recorded by the receiver, then no answer for 3 s
        async with pool.connection() as conn:
            await resolve_hook(conn, review["token"], "approve", {})
        assert await asyncio.to_thread(rx.received.wait, 30), "the publish call never arrived"
        await recover_after_kill(pool, workers, proc)  # SIGKILL while the call is in flight
        done = await wait_status(pool, run.id, "completed", timeout=FINISH_S)

    first_key = rx.deliveries[0]["key"]
    assert [d["key"] for d in rx.deliveries].count(
        first_key
    ) == 2  # the step ran again after the kill...
    assert len(rx.published) == 3  # ...yet every post was published exactly once
    assert rx.bad_signatures == 0
    posts = await rows(
        pool,
        "SELECT status, idempotency_key FROM publishing_posts WHERE run_id = %s ORDER BY publish_at",
        run.id,
    )
    assert [p["status"] for p in posts] == ["published"] * 3
    assert posts[0]["idempotency_key"] == first_key
    assert done["output"]["published"] == 3
    journal = await rows(
        pool, "SELECT seq, status FROM run_steps WHERE run_id = %s ORDER BY seq", run.id
    )
    assert [e["seq"] for e in journal] == list(range(len(journal))) and {
        e["status"] for e in journal
    } == {"completed"}
