"""Outputs stored large are not sent again each time a run resumes (issue 14): the run reads them
from its process's cache or fetches them when its code reaches them, and replays the same values;
the determinism check still covers every position."""

import pytest

import tests.integration.engine.workflows as wf
from app.engine import journal_cache, stored_outputs
from app.engine.hooks import resolve_hook
from tests.support.engine import start, wait_status


async def hook_token(pool, run_id) -> str:
    async with pool.connection() as conn:
        return (
            await (
                await conn.execute("SELECT token FROM hooks WHERE run_id = %s", (run_id,))
            ).fetchone()
        )["token"]


async def stored_sizes(pool, run_id) -> list[int]:
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT pg_column_size(output) AS size FROM run_steps WHERE run_id = %s AND kind = 'step' ORDER BY seq",
                (run_id,),
            )
        ).fetchall()
    return [r["size"] for r in rows]


@pytest.mark.parametrize("cache", ["warm", "cold"])
async def test_large_outputs_replay_as_journaled_from_the_cache_or_from_postgres(
    pool, worker, user, cache
):
    run = await start(pool, user, "test-large-outputs")
    await wait_status(pool, run.id, "waiting")
    assert all(size > stored_outputs.LAZY_OUTPUT_BYTES for size in await stored_sizes(pool, run.id))
    if cache == "cold":  # as on a worker that did not run the first steps
        stored_outputs.cache = stored_outputs.OutputCache()
        assert journal_cache.cache.take(str(run.id)) is not None
    async with pool.connection() as conn:
        await resolve_hook(conn, await hook_token(pool, run.id), "approve")
    done = await wait_status(pool, run.id, "completed")
    assert done["output"] == {"text": True, "record": True, "items": 101}


async def test_a_renamed_step_with_a_large_output_still_fails_the_determinism_check(
    pool, worker, user
):
    run = await start(pool, user, "test-large-outputs")
    await wait_status(pool, run.id, "waiting")
    wf.LARGE_NAME["value"] = "renamed"
    try:
        async with pool.connection() as conn:
            await resolve_hook(conn, await hook_token(pool, run.id), "approve")
        failed = await wait_status(pool, run.id, "failed")
    finally:
        wf.LARGE_NAME["value"] = "text"
    assert failed["error"]["type"] == "NonDeterminism"
    assert "'text'" in failed["error"]["message"] and "'renamed'" in failed["error"]["message"]


def test_the_output_cache_forgets_the_least_recently_used_first_and_hands_out_copies():
    cache = stored_outputs.OutputCache(max_bytes=100)
    cache.put(("r", 0, "1"), {"a": [1]})
    cache.put(("r", 1, "1"), "x" * 60)
    found, value = cache.get(("r", 0, "1"))
    value["a"].append(2)
    assert cache.get(("r", 0, "1")) == (True, {"a": [1]})
    cache.put(("r", 2, "1"), "y" * 60)  # over 100: the least recently used (position 1) goes
    assert cache.get(("r", 1, "1")) == (False, None)
    assert cache.get(("r", 2, "1")) == (True, "y" * 60)
    assert cache.get(("r", 0, "2")) == (False, None)  # another row version of the position
