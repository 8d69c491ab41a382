"""The event stream resumes by id, which is only safe if a run's events commit in id order. The
engine guarantees it by taking the run's row lock before an event takes its id (app/engine/
journal.py): these tests hold that lock in another transaction, as a cancel or a hook decision
does, and check that a step's event written meanwhile still gets the larger id."""

from __future__ import annotations

import asyncio
import time

from psycopg.types.json import Jsonb

from app.engine import journal
from tests.integration.api.conftest import new_account

# A finished run: no job is queued for it, so no worker touches it during the test.
INSERT_RUN = """
INSERT INTO runs (owner_id, workflow, version, title, input, status)
VALUES (%s, 'test-api-echo', 1, 'ordering', '{}', 'completed') RETURNING id
"""
BLOCKED = """
SELECT count(*) AS n FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'
"""


async def wait_until_blocked(pool, pid: int) -> None:
    deadline = time.monotonic() + 5
    while True:
        async with pool.connection() as conn:
            if (await (await conn.execute(BLOCKED, (pid,))).fetchone())["n"]:
                return
        assert time.monotonic() < deadline, "the writer never waited for the run's lock"
        await asyncio.sleep(0.01)


async def id_order_under_a_held_lock(pool, write) -> tuple[int, int]:
    """Hold the run's lock, let `write(conn, run_id, owner_id)` start, then commit an event from
    the lock holder. Returns (holder's event id, writer's event id)."""
    owner = (await new_account(pool)).user_id
    async with pool.connection() as holder, pool.connection() as writer:
        run_id = (await (await holder.execute(INSERT_RUN, (owner,))).fetchone())["id"]
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM runs WHERE id = %s FOR UPDATE", (run_id,))
            writing = asyncio.create_task(write(writer, run_id, owner))
            await wait_until_blocked(pool, writer.info.backend_pid)
            held = await (
                await holder.execute(
                    "INSERT INTO run_events (run_id, owner_id, kind) VALUES (%s, %s, 'cancel_requested') RETURNING id",
                    (run_id, owner),
                )
            ).fetchone()
        await writing
        written = await (
            await holder.execute(
                "SELECT id FROM run_events WHERE run_id = %s AND kind <> 'cancel_requested'",
                (run_id,),
            )
        ).fetchone()
    return held["id"], written["id"]


async def test_a_step_event_written_while_the_run_is_locked_gets_a_later_id(pool):
    async def write_step(conn, run_id, owner):
        await journal.write_step(
            conn,
            run_id=run_id,
            owner_id=owner,
            seq=0,
            name="one",
            kind="step",
            status="completed",
            attempts=1,
            done=1,
            event="step_completed",
            event_data={"seq": 0, "name": "one"},
        )

    held, written = await id_order_under_a_held_lock(pool, write_step)
    assert written > held


async def test_a_step_started_announcement_waits_for_the_lock_too(pool):
    async def announce(conn, run_id, owner):
        await conn.execute(
            journal.INSERT_EVENT,
            {
                "run_id": run_id,
                "owner_id": owner,
                "kind": "step_started",
                "data": Jsonb({"seq": 0, "name": "long"}),
            },
        )

    held, written = await id_order_under_a_held_lock(pool, announce)
    assert written > held


async def test_a_new_steps_event_written_while_the_run_is_locked_gets_a_later_id(pool):
    """The same for a step at a position the journal did not hold (a plain INSERT)."""

    async def write_step(conn, run_id, owner):
        await journal.write_step(
            conn,
            new=True,
            run_id=run_id,
            owner_id=owner,
            seq=0,
            name="one",
            kind="step",
            status="completed",
            attempts=1,
            done=1,
            event="step_completed",
        )

    held, written = await id_order_under_a_held_lock(pool, write_step)
    assert written > held
