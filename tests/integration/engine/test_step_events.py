"""A completed step's `step_completed` event is read from its journal row (sql/0097): readers of
`run_events` see it as before (same kind, data and order), nothing writes it twice, and a position
written twice still decides as the upsert always did."""

from __future__ import annotations

from app.engine import journal
from tests.support.engine import start, wait_status

EVENTS = "SELECT id, kind, data FROM run_events WHERE run_id = %s ORDER BY id"
STORED_STEP_EVENTS = (
    "SELECT count(*) AS n FROM run_event_rows WHERE run_id = %s AND kind = 'step_completed'"
)
INSERT_RUN = """
INSERT INTO runs (owner_id, workflow, version, title, input, status)
VALUES (%s, 'selftest', 1, 'twice', '{}', 'running') RETURNING id
"""


async def rows(pool, query: str, *args) -> list[dict]:
    async with pool.connection() as conn:
        return await (await conn.execute(query, args)).fetchall()


async def test_step_events_come_from_the_journal_with_their_data(pool, worker, user):
    run = await start(pool, user, "test-map", items=3, hold_s=0)
    await wait_status(pool, run.id, "completed")
    plain = await start(pool, user, "selftest", steps=2)
    await wait_status(pool, plain.id, "completed")

    steps = [e for e in await rows(pool, EVENTS, plain.id) if e["kind"] == "step_completed"]
    assert [e["data"]["name"] for e in steps] == ["step 1", "step 2"]
    assert [e["data"]["seq"] for e in steps] == [0, 1]
    assert all(e["data"]["duration_ms"] >= 0 for e in steps)
    [mapped] = [e for e in await rows(pool, EVENTS, run.id) if e["kind"] == "step_completed"]
    assert mapped["data"] == {"seq": 0, "name": "items", "total": 3}
    for run_id in (run.id, plain.id):
        assert (await rows(pool, STORED_STEP_EVENTS, run_id))[0]["n"] == 0


async def test_a_position_written_twice_keeps_its_first_result(pool, user):
    """A second writer of a new position (an advance that outlived its job) finds the row there:
    the plain INSERT fails and the upsert leaves the completed row and its one event alone."""
    [run] = await rows(pool, INSERT_RUN, user)
    fields = dict(
        run_id=run["id"],
        owner_id=user,
        seq=0,
        name="once",
        kind="step",
        status="completed",
        attempts=1,
        duration_ms=1.0,
        done=1,
        event="step_completed",
    )
    async with pool.connection() as conn:
        first = await journal.write_step(conn, new=True, output="first", **fields)
        second = await journal.write_step(conn, new=True, output="second", **fields)
    assert (first["written"], second["written"]) == (1, 0)
    [step] = await rows(pool, "SELECT output FROM run_steps WHERE run_id = %s", run["id"])
    assert step["output"] == "first"
    assert [e["kind"] for e in await rows(pool, EVENTS, run["id"])] == ["step_completed"]
