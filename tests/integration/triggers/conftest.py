"""Fixtures for the trigger tests: a Baton served on a real port (deliveries come from outside, as
real HTTP), its in-process test worker (tests/support/engine.py), and triggers made in the store.

    server    a LiveServer on create_app(..., run_worker=False); the session `worker` runs the runs
    trigger   Factory: await trigger(owner_id, auth_mode="hmac", mapping=..., rate=...) -> (row, secret)
    api, account  the API tests' client and API-key account (tests/integration/api/conftest.py)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tests.integration.api.workflows  # noqa: F401  (registers test-api-echo)
from app.core.secrets_box import SecretBox
from app.triggers import store
from app.web.app import create_app
from tests.integration.api.conftest import account, api  # noqa: F401  (the API tests' fixtures, shared)
from tests.integration.api.workflows import VISIBLE
from tests.support.live_server import LiveServer


@pytest.fixture(scope="module")
def server(settings, database_url) -> Iterator[LiveServer]:
    with LiveServer(create_app(settings, database_url, run_worker=False)) as live:
        yield live


@pytest.fixture
def trigger(pool, settings):
    async def make(
        owner_id: int,
        *,
        auth_mode: str = "hmac",
        mapping: dict | None = None,
        rate: int = 60,
        workflow: str = VISIBLE,
        name: str = "CMS posts",
    ) -> tuple[dict, str]:
        async with pool.connection() as conn:
            return await store.create_trigger(
                conn,
                owner_id,
                SecretBox.from_settings(settings),
                name=name,
                workflow=workflow,
                mapping=mapping,
                auth_mode=auth_mode,
                rate_per_minute=rate,
            )

    return make


async def runs_of(pool, owner_id: int) -> list[dict]:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT * FROM runs WHERE owner_id = %s ORDER BY created_at", (owner_id,)
            )
        ).fetchall()


async def deliveries_of(pool, trigger_id) -> list[dict]:
    async with pool.connection() as conn:
        return await store.deliveries(conn, trigger_id, limit=100)
