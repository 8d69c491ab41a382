"""Fixtures for the publishing tests: the worker's runtime on the scripted model, a model that
writes posts, connectors pointing at a local receiver, and runs whose posts are seconds apart."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest

from app.core.outbound import Allowlist
from app.core.secrets_box import SecretBox
from app.steps.publishers.connectors import ConnectorForm, create_connector
from tests.support.engine import start
from tests.support.fixtures import model_runtime
from tests.support.model_server import Reply

SECRET = "receiver-signing-secret"
# How long a run may take to finish once its posts are out: generous, because its last step renders
# the report's PDF, and the first PDF of a test session (WeasyPrint starting) can take 15 s on a
# loaded machine.
FINISH_S = 60.0
TOKEN = "mastodon-access-token"


def write_posts(request):
    system = (request.body or {}).get("messages", [{}])[0].get("content", "")
    if "social media writer" in system:
        count = int(request.last_user_message.split("Write ", 1)[1].split(" ", 1)[0])
        return Reply("\n---\n".join(f"Post number {i + 1} about the launch." for i in range(count)))
    return Reply("Echo")


@pytest.fixture
def writer(model):
    model.handler = write_posts
    return model


@pytest.fixture(scope="session")
def model_settings(model_settings):
    """The receiver runs on 127.0.0.1, so these settings allow it as an admin would (a receiver next
    to Baton): BATON_CONNECTOR_ALLOW=127.0.0.1."""
    return dataclasses.replace(model_settings, connector_allow=Allowlist.parse("127.0.0.1"))


@pytest.fixture(autouse=True)
async def worker_runtime(model_settings):
    async with model_runtime(model_settings) as installed:
        yield installed


async def add_connector(
    pool, settings, user: int, kind: str, url: str, secret: str, name: str | None = None
) -> dict:
    async with pool.connection() as conn:
        row, _ = await create_connector(
            conn,
            SecretBox(settings.secret_key),
            user,
            ConnectorForm(kind=kind, name=name or kind, url=url, secret=secret),
        )
    return row


def first_slot(seconds_ahead: float) -> dict:
    """start_date and post_time (UTC) for a first post `seconds_ahead` from now."""
    when = (datetime.now(UTC) + timedelta(seconds=seconds_ahead)).replace(microsecond=0)
    return {
        "start_date": when.date().isoformat(),
        "post_time": when.strftime("%H:%M:%S"),
        "timezone": "UTC",
    }


async def start_schedule(pool, user, *, posts=3, ahead=4.0, spacing="2s", **extra) -> dict:
    params = {
        "brief": "Our product launch next week",
        "connector": "webhook",
        "posts": posts,
        "spacing": spacing,
        "metrics_after": "1s",
        "retry_delay": "1s",
        **first_slot(ahead),
    }
    return await start(pool, user, "scheduled-publishing", **params | extra)


async def rows(pool, sql, *args):
    async with pool.connection() as conn:
        return await (await conn.execute(sql, args)).fetchall()


async def wait_until(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
