from app.engine.commands import get_run, start_run
from tests.support.engine import journal, wait_status


async def test_selftest_runs_steps_to_completion(pool, worker, user):
    async with pool.connection() as conn:
        run, created = await start_run(conn, owner_id=user, workflow="selftest", input={"steps": 5})
    assert created
    done = await wait_status(pool, run.id, "completed")
    assert done["output"] == {"steps": 5}
    entries = await journal(pool, run.id)
    assert [e["name"] for e in entries] == [f"step {i}" for i in range(1, 6)]
    assert all(e["status"] == "completed" and e["attempts"] == 1 for e in entries)
    async with pool.connection() as conn:
        shown = await get_run(conn, run.id, owner_id=user)
    assert [s.name for s in shown.steps] == [e["name"] for e in entries]


async def test_every_step_and_status_change_is_an_event_in_order(pool, worker, user):
    from tests.support.engine import start

    run = await start(pool, user, "selftest", steps=3)
    await wait_status(pool, run.id, "completed")
    async with pool.connection() as conn:
        events = await (
            await conn.execute(
                "SELECT kind, data FROM run_events WHERE run_id = %s ORDER BY id", (run.id,)
            )
        ).fetchall()
    kinds = [e["kind"] for e in events]
    assert kinds == [
        "status",
        "status",
        "step_completed",
        "step_completed",
        "step_completed",
        "status",
    ]
    assert [e["data"]["status"] for e in events if e["kind"] == "status"] == [
        "queued",
        "running",
        "completed",
    ]
