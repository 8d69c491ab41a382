"""`run.hook(..., wait_if=)`: the check runs once, in the transaction that would create the hook;
False means no hook and an immediate `not_needed` result, journaled like an answer (a replay
returns it without checking again); True is an ordinary wait."""

from app.engine.hooks import resolve_hook
from tests.support.engine import effects, hook_token, journal, start, wait_status


async def _hooks(pool, run_id) -> list[dict]:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT name, status FROM hooks WHERE run_id = %s ORDER BY seq", (run_id,)
            )
        ).fetchall()


async def _finish(pool, run_id) -> dict:
    await wait_status(pool, run_id, "waiting")
    async with pool.connection() as conn:
        await resolve_hook(conn, await hook_token(pool, run_id), "approve")
    return await wait_status(pool, run_id, "completed")


async def test_a_hook_with_nothing_to_wait_for_returns_at_once_and_replays_the_same(
    pool, worker, user
):
    run = await start(pool, user, "test-wait-if", wait=False)
    done = await _finish(pool, run.id)  # the run waits only on "then wait", then replays to the end
    first = done["output"]["first"]
    assert first["not_needed"] is True and first["action"] is None and first["timed_out"] is False
    assert [h["name"] for h in await _hooks(pool, run.id)] == [
        "then wait"
    ]  # no hook row for the first
    assert [e["name"] for e in await effects(pool, run.id)] == [
        "checked"
    ]  # checked once, not on replay
    entry = (await journal(pool, run.id))[0]
    assert (entry["name"], entry["kind"], entry["status"]) == ("maybe wait", "hook", "completed")


async def test_a_hook_whose_check_says_wait_is_an_ordinary_wait(pool, worker, user):
    run = await start(pool, user, "test-wait-if", wait=True)
    await wait_status(pool, run.id, "waiting")
    assert await _hooks(pool, run.id) == [{"name": "maybe wait", "status": "waiting"}]
    async with pool.connection() as conn:
        await resolve_hook(conn, await hook_token(pool, run.id), "approve")
    done = await _finish(pool, run.id)
    assert (
        done["output"]["first"]["action"] == "approve"
        and done["output"]["first"]["not_needed"] is False
    )
    assert len(await effects(pool, run.id)) == 1
