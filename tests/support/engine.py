"""Engine test fixtures (a pytest plugin, see tests/conftest.py): an in-process worker, users, and
waiting for a run's state. Test workflows live in tests/integration/engine/workflows.py."""

from __future__ import annotations

import asyncio
import os
import secrets
import time

import psycopg
import pytest

import tests.integration.engine.workflows as test_workflows
import worker.tasks  # noqa: F401  (registers tasks and workflows)
from app.engine.rows import StartedRun
from tests.support.waiting import wait_for
from worker.runner import WorkerHandle


@pytest.fixture(scope="session", autouse=True)
def effects_table(database_url):
    """Step bodies of the test workflows record their executions in this database."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(test_workflows.EFFECTS)
    os.environ["BATON_TEST_DB"] = database_url


async def effects(pool, run_id) -> list[dict]:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT * FROM test_effects WHERE run_id = %s ORDER BY id", (str(run_id),)
            )
        ).fetchall()


# A worker takes new jobs as they are announced once its connection LISTENs on Procrastinate's
# channel (until then it would see them only at its next poll, seconds later).
LISTENERS = """
SELECT count(*) AS n FROM pg_stat_activity
WHERE datname = current_database() AND query ~ '^LISTEN "?procrastinate'
"""


async def job_listeners(pool) -> int:
    async with pool.connection() as conn:
        return (await (await conn.execute(LISTENERS)).fetchone())["n"]


@pytest.fixture(scope="session")
async def worker(pool):
    before = await job_listeners(pool)
    handle = WorkerHandle(pool, concurrency=8, name="tests")
    handle.start()
    await wait_for(lambda: _more_listeners(pool, before), what="the worker to listen for jobs")
    yield handle
    await handle.stop()


async def _more_listeners(pool, before: int) -> bool:
    return await job_listeners(pool) > before


async def make_user(pool, tier: str = "enterprise") -> int:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "INSERT INTO users (email, tier) VALUES (%s, %s) RETURNING id",
                (f"u-{secrets.token_hex(6)}@example.test", tier),
            )
        ).fetchone()
    return row["id"]


@pytest.fixture
async def user(pool) -> int:
    return await make_user(pool)


async def start(pool, user, workflow, **input) -> StartedRun:
    from app.engine.commands import start_run

    async with pool.connection() as conn:
        run, _ = await start_run(conn, owner_id=user, workflow=workflow, input=input)
    return run


async def hook_token(pool, run_id) -> str:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT token FROM hooks WHERE run_id = %s AND status = 'waiting'", (run_id,)
            )
        ).fetchone()
    return row["token"]


async def run_row(pool, run_id) -> dict:
    async with pool.connection() as conn:
        return await (await conn.execute("SELECT * FROM runs WHERE id = %s", (run_id,))).fetchone()


async def wait_status(pool, run_id, *statuses: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        row = await run_row(pool, run_id)
        if row["status"] in statuses:
            return row
        if time.monotonic() > deadline:
            raise AssertionError(
                f"run {run_id} is {row['status']} ({row['error']}), expected {statuses}"
            )
        await asyncio.sleep(0.02)


async def journal(pool, run_id) -> list[dict]:
    async with pool.connection() as conn:
        return await (
            await conn.execute("SELECT * FROM run_steps WHERE run_id = %s ORDER BY seq", (run_id,))
        ).fetchall()
