"""A worker keeps a suspended run's journal and, when the run resumes there, is sent only the
positions after it (app/engine/journal_cache.py, issue 14). Whatever another worker wrote meanwhile
arrives with the load; a journal rewritten since (a retry) is loaded whole; and a run replays the
same values whether its journal was kept or loaded."""

import json

from psycopg.types.json import Jsonb

import tests.integration.engine.workflows as wf
from app.engine import journal_cache
from app.engine.advance import load_params
from app.engine.commands import retry_run
from app.engine.hooks import resolve_hook
from app.engine.journal import LOAD_RUN
from tests.support.engine import hook_token, start, wait_status
from tests.support.waiting import wait_for

EXPECTED = {
    "first": [0, 1, 2, 3, 4],
    "second": [10, 11, 12],
    "checked": "passed",
    "last": 100,
    "record": {"b": 0.5, "zeta": [1, 2, "changed by the code"], "alpha": None},
    "keys": ["b", "zeta", "alpha"],  # jsonb's order, as a load from Postgres gives it
}


async def waiting_on(pool, run_id, hook: str) -> None:
    async def there() -> bool:
        async with pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT 1 FROM hooks h JOIN runs r ON r.id = h.run_id WHERE h.run_id = %s"
                    " AND h.name = %s AND h.status = 'waiting' AND r.status = 'waiting'",
                    (run_id, hook),
                )
            ).fetchone()
        # The worker keeps the journal just after the suspension commits, so the database says
        # "waiting" a moment before the cache holds it.
        return row is not None and str(run_id) in journal_cache.cache

    await wait_for(there, what=f"the run to wait on {hook} and its journal to be kept")


async def decide(pool, run_id) -> None:
    token = await hook_token(pool, run_id)
    async with pool.connection() as conn:
        await resolve_hook(conn, token, "approve")


async def loaded(pool, run_id, kept) -> dict:
    """What LOAD_RUN sends a worker that kept `kept` (rolled back: loading marks the run running)."""
    async with pool.connection() as conn, conn.transaction(force_rollback=True):
        return await (await conn.execute(LOAD_RUN, load_params(run_id, kept))).fetchone()


def peek(run_id) -> journal_cache.Kept | None:
    kept = journal_cache.cache.take(str(run_id))
    journal_cache.cache.keep(str(run_id), kept)
    return kept


def checked_output(output: dict, uuid: str) -> dict:
    assert output.pop("uuid") == uuid
    return output


async def test_a_run_resumed_on_its_worker_is_sent_only_the_positions_after_those_kept(
    pool, worker, user
):
    run = await start(pool, user, "test-kept-journal")
    await waiting_on(pool, run.id, "one")
    kept = peek(run.id)
    assert len(kept) == 7  # five steps, the uuid, the record; the hook's position is open
    sent = await loaded(pool, run.id, kept)
    assert sent["journal_from"] == 7 and sent["journal_seqs"] == [7]
    uuid = kept.outputs[5]

    await decide(pool, run.id)
    await waiting_on(pool, run.id, "two")
    assert len(peek(run.id)) == 12  # the decided hook, three steps and the check
    await decide(pool, run.id)
    done = await wait_status(pool, run.id, "completed")
    assert checked_output(done["output"], uuid) == EXPECTED
    assert str(run.id) not in journal_cache.cache  # a finished run keeps nothing


async def test_a_kept_journal_gets_what_another_worker_wrote_since(pool, worker, user):
    run = await start(pool, user, "test-kept-journal")
    await waiting_on(pool, run.id, "one")
    stale = journal_cache.cache.take(str(run.id))  # this worker's; the run moves on elsewhere
    uuid = stale.outputs[5]
    await decide(pool, run.id)
    await waiting_on(pool, run.id, "two")
    # Back on the first worker, which still holds what it kept at the first hook.
    journal_cache.cache.keep(str(run.id), stale)
    sent = await loaded(pool, run.id, stale)
    assert sent["journal_from"] == 7 and sent["journal_seqs"] == list(range(7, 13))
    await decide(pool, run.id)
    done = await wait_status(pool, run.id, "completed")
    assert checked_output(done["output"], uuid) == EXPECTED


async def test_a_journal_rewritten_by_a_retry_is_loaded_whole_not_taken_from_what_was_kept(
    pool, worker, user
):
    run = await start(pool, user, "test-kept-journal")
    await waiting_on(pool, run.id, "one")
    kept = peek(run.id)
    uuid = kept.outputs[5]
    # A kept journal that disagrees with Postgres: were it used, the run would replay it.
    forged = journal_cache.Kept(
        kept.version,
        kept.names,
        kept.kinds,
        ["forged"] * 5 + kept.outputs[5:],
        kept.encoded,
        kept.stored,
        kept.size,
    )
    wf.KEPT_FAILS["value"] = True
    try:
        await decide(pool, run.id)
        await wait_status(pool, run.id, "failed")
    finally:
        wf.KEPT_FAILS["value"] = False
    assert str(run.id) not in journal_cache.cache
    journal_cache.cache.keep(str(run.id), forged)
    assert (await loaded(pool, run.id, forged))[
        "journal_from"
    ] == 7  # the control: it would be used

    async with pool.connection() as conn:
        await retry_run(conn, run.id, owner_id=user)  # forgets the failed step: a new version
    assert (await loaded(pool, run.id, forged))["journal_from"] == 0
    await waiting_on(pool, run.id, "two")
    await decide(pool, run.id)
    done = await wait_status(pool, run.id, "completed")
    assert checked_output(done["output"], uuid) == EXPECTED


async def test_an_output_is_kept_as_a_load_from_postgres_would_give_it(pool):
    values = [
        None,
        True,
        7,
        2**70,
        1.5,
        0.1 + 0.2,
        "text ünïcode",
        [1, {"b": 2, "a": 1}],
        {"longer key": 1, "z": {"yy": 2, "x": [0.25]}, "é": "accent", "e": 0},
    ]
    async with pool.connection() as conn:
        for value in values:
            row = await (
                await conn.execute(
                    "SELECT %s::jsonb AS v, %s::jsonb::text AS t", (Jsonb(value),) * 2
                )
            ).fetchone()
            keepable, held, as_json = journal_cache.as_loaded(value)
            assert keepable
            back = json.loads(held) if as_json else held
            assert back == row["v"] and json.dumps(back) == json.dumps(json.loads(row["t"]))
    # Numbers jsonb would give back as another Python value are not kept (loaded instead).
    for value in (1e20, 1e-7, -0.0, [1e20], {"a": -0.0}):
        assert not journal_cache.as_loaded(value)[0]
