"""Deleting a trigger or a schedule never waits on the runs it started: a worker advancing one of
those runs holds its row for the whole step, and the runs keep the trigger's and schedule's ids
without a foreign key (sql/0137). The run still says where it came from, as deleted."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from app.schedules import store as schedules
from app.triggers import store as triggers
from tests.integration.api.conftest import start
from tests.integration.api.workflows import VISIBLE
from tests.integration.schedules.helpers import make_schedule


async def test_deleting_a_trigger_or_schedule_does_not_wait_on_a_run_being_worked_on(
    api, account, pool, database_url
):
    created = await api.post(
        "/api/v1/triggers",
        headers=account.headers,
        json={"name": "Build finished", "workflow": VISIBLE},
    )
    assert created.status_code == 201, created.text
    trigger = created.json()
    schedule = await make_schedule(
        pool,
        account.user_id,
        workflow=VISIBLE,
        input={"topic": "x"},
        every_s=None,
        cron="0 0 1 1 *",
    )
    run = await start(pool, account, VISIBLE, topic="from a hook")
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE runs SET trigger_id = %s, trigger_name = 'Build finished', schedule_id = %s,"
            " fire_at = now() WHERE id = %s",
            (trigger["id"], schedule["id"], run.id),
        )

    async with pool.connection() as worker, worker.transaction():
        # What a worker running a step of the run holds until the step's transaction ends.
        await worker.execute("SELECT 1 FROM runs WHERE id = %s FOR UPDATE", (run.id,))
        async with await psycopg.AsyncConnection.connect(
            database_url, autocommit=True, row_factory=dict_row
        ) as user:
            # A wait on the worker's lock fails the test instead of hanging it.
            await user.execute("SET lock_timeout = '10s'")
            await triggers.delete_trigger(user, trigger["id"], account.user_id)
            await schedules.delete_schedule(user, schedule["id"], account.user_id)

    shown = (await api.get(f"/api/v1/runs/{run.id}", headers=account.headers)).json()
    assert (shown["trigger_id"], shown["trigger_name"], shown["schedule_id"]) == (
        None,
        "Build finished",
        None,
    )
