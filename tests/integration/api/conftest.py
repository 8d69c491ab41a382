"""Fixtures for the API tests. The in-process `worker`, `make_user` and `wait_status` come from
the engine plugin (tests/support/engine.py); these add:

    api      AsyncTestClient on create_app(..., run_worker=False)
    account  a new enterprise user with a fresh API key: Account(user_id, key, headers)
plus helpers to start runs as an account and wait for their hooks.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from litestar.testing import AsyncTestClient

import tests.integration.api.workflows  # noqa: F401  (registers the test workflows)
from app.engine.rows import StartedRun
from app.web.auth import api_keys as keys
from tests.conftest import baton_env
from tests.support.engine import make_user, wait_status


@dataclass(frozen=True)
class Account:
    user_id: int
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def new_account(pool, tier: str = "enterprise") -> Account:
    user_id = await make_user(pool, tier)
    async with pool.connection() as conn:
        key, _ = await keys.create_key(conn, user_id, "tests")
    return Account(user_id, key)


@pytest.fixture
async def account(pool) -> Account:
    return await new_account(pool)


@pytest.fixture
async def api(settings, database_url) -> AsyncIterator[AsyncTestClient]:
    from app.web.app import create_app

    async with AsyncTestClient(create_app(settings, database_url, run_worker=False)) as client:
        client.follow_redirects = False
        yield client


async def start(pool, account: Account, workflow: str, **input) -> StartedRun:
    from app.engine.commands import start_run

    async with pool.connection() as conn:
        run, _ = await start_run(conn, owner_id=account.user_id, workflow=workflow, input=input)
    return run


wait_for = wait_status


async def waiting_hook(pool, run_id, name: str | None = None, within_s: float = 10.0) -> dict:
    """The waiting hook of a run (by name), once the run has reached it."""
    deadline = time.monotonic() + within_s
    while True:
        async with pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT * FROM hooks WHERE run_id = %s AND status = 'waiting' AND (%s::text IS NULL OR name = %s)",
                    (run_id, name, name),
                )
            ).fetchone()
        if row:
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} has no waiting hook {name or ''}")
        await asyncio.sleep(0.02)


async def events_of(pool, run_id) -> list[dict]:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT id, kind, data FROM run_events WHERE run_id = %s ORDER BY id", (run_id,)
            )
        ).fetchall()


async def baton(database_url, tmp_path, *args) -> SimpleNamespace:
    """Run the `baton` command without blocking the event loop (the in-process worker shares it)."""
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("baton")),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=baton_env(
            DATABASE_URL=database_url,
            BATON_DATA_DIR=str(tmp_path),
            BATON_SECRET_KEY="cli-test-secret-key",
        ),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return SimpleNamespace(returncode=proc.returncode, stdout=out.decode(), stderr=err.decode())
