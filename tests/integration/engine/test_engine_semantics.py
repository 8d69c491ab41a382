"""The engine's semantics, with an in-process worker on the session database."""

import asyncio
import time

import pytest

from app.engine.commands import cancel_run, get_run, retry_run, start_run
from app.engine.errors import AlreadyDecided, HookExpired, InputInvalid, InvalidState
from app.engine.hooks import resolve_hook
from tests.support.engine import effects, hook_token, journal, start, wait_status


async def test_idempotent_start_returns_the_first_run(pool, worker, user):
    async with pool.connection() as conn:
        first, created = await start_run(
            conn, owner_id=user, workflow="selftest", input={"steps": 1}, idempotency_key="k1"
        )
        again, created_again = await start_run(
            conn, owner_id=user, workflow="selftest", input={"steps": 1}, idempotency_key="k1"
        )
    assert created and not created_again
    assert again.id == first.id


async def test_invalid_input_names_the_field(pool, user):
    async with pool.connection() as conn:
        with pytest.raises(InputInvalid) as info:
            await start_run(conn, owner_id=user, workflow="selftest", input={"steps": -1})
    assert info.value.errors[0]["field"] == "steps"


async def test_retry_with_backoff_then_success(pool, worker, user):
    t0 = time.monotonic()
    run = await start(pool, user, "selftest", steps=0, fail_attempts=2, retry_initial_s=0.2)
    done = await wait_status(pool, run.id, "completed")
    elapsed = time.monotonic() - t0
    assert done["output"]["flaky_attempts"] == 3
    # Backoff 0.2 s then 0.4 s, spent suspended (the worker was free meanwhile).
    assert elapsed >= 0.6
    [flaky] = await journal(pool, run.id)
    assert flaky["attempts"] == 3 and flaky["status"] == "completed"


async def test_fatal_error_stops_without_retry(pool, worker, user):
    run = await start(pool, user, "test-errors", mode="fatal")
    failed = await wait_status(pool, run.id, "failed")
    assert failed["error"]["step"] == "doomed"
    assert "this cannot work" in failed["error"]["message"]
    [doomed] = await journal(pool, run.id)
    assert doomed["attempts"] == 1


async def test_exhausted_retries_raise_step_failed_into_the_workflow(pool, worker, user):
    run = await start(pool, user, "test-errors", mode="handled")
    done = await wait_status(pool, run.id, "completed")
    assert done["output"] == {"handled": "flaky dependency down"}
    [doomed] = await journal(pool, run.id)
    assert doomed["attempts"] == 2 and doomed["status"] == "failed"


async def test_unhandled_step_failure_fails_the_run_and_retry_resumes_from_it(pool, worker, user):
    run = await start(pool, user, "test-errors", mode="exhausted")
    await wait_status(pool, run.id, "failed")
    async with pool.connection() as conn:
        await retry_run(conn, run.id, owner_id=user)
    failed_again = await wait_status(pool, run.id, "failed")
    assert failed_again["error"]["step"] == "doomed"
    [doomed] = await journal(pool, run.id)
    assert doomed["attempts"] == 2  # the retry ran the failed step afresh


async def test_hook_is_decided_exactly_once_under_concurrency(pool, worker, user):
    run = await start(pool, user, "test-hook")
    await wait_status(pool, run.id, "waiting")
    token = await hook_token(pool, run.id)

    async def decide(i):
        async with pool.connection() as conn:
            try:
                await resolve_hook(conn, token, "approve", {"who": i}, decided_by=f"r{i}")
                return "ok"
            except AlreadyDecided:
                return "already"

    outcomes = await asyncio.gather(*(decide(i) for i in range(20)))
    assert outcomes.count("ok") == 1 and outcomes.count("already") == 19
    done = await wait_status(pool, run.id, "completed")
    assert done["output"]["action"] == "approve"


async def test_hook_timeout_returns_a_timed_out_result(pool, worker, user):
    run = await start(pool, user, "test-hook", timeout_s=0.5)
    done = await wait_status(pool, run.id, "completed", timeout=5)
    assert done["output"] == {"action": None, "timed_out": True, "data": {}}
    token = None
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT token, status FROM hooks WHERE run_id = %s", (run.id,))
        ).fetchone()
        token = row["token"]
        assert row["status"] == "expired"
        with pytest.raises(HookExpired):
            await resolve_hook(conn, token, "approve")


async def test_journaled_now_and_uuid_are_stable_across_replays(pool, worker, user):
    run = await start(pool, user, "test-values")
    await wait_status(pool, run.id, "waiting")
    await asyncio.sleep(0.05)
    async with pool.connection() as conn:
        await resolve_hook(conn, await hook_token(pool, run.id), "approve")
    done = await wait_status(pool, run.id, "completed")
    entries = await journal(pool, run.id)
    assert done["output"]["first"]["now"] == entries[0]["output"]
    assert done["output"]["first"]["uuid"] == entries[1]["output"]
    assert done["output"]["again"]["now"] > done["output"]["first"]["now"]


async def test_transaction_effects_happen_once(pool, worker, user):
    run = await start(pool, user, "test-transaction")
    await wait_status(pool, run.id, "waiting")
    async with pool.connection() as conn:
        await resolve_hook(conn, await hook_token(pool, run.id), "approve")
    done = await wait_status(pool, run.id, "completed")
    writes = [e for e in await effects(pool, run.id) if e["name"] == "transaction"]
    assert len(writes) == 1 and done["output"] == writes[0]["id"]


async def test_get_run_hides_hook_tokens_when_asked(pool, worker, user):
    run = await start(pool, user, "test-hook")
    await wait_status(pool, run.id, "waiting")
    async with pool.connection() as conn:
        shown = await get_run(conn, run.id, owner_id=user, with_tokens=False)
        assert shown.hooks[0].token is None
        await cancel_run(conn, run.id, owner_id=user)
        with pytest.raises(InvalidState):
            await cancel_run(conn, run.id, owner_id=user)


async def test_remind_before_calls_the_reminder_callbacks_once(pool, worker, user):
    from app.engine import signals

    reminded = []

    async def remember(conn, hook):
        reminded.append((hook.name, hook.assignee))

    signals.hook_reminder.append(remember)
    try:
        run = await start(
            pool, user, "test-hook", timeout_s=2.0, remind_before_s=1.5, assignee="Boss@Example.com"
        )
        await wait_status(pool, run.id, "waiting")
        for _ in range(150):
            if reminded:
                break
            await asyncio.sleep(0.02)
        assert reminded == [("approve it", "boss@example.com")]
        done = await wait_status(pool, run.id, "completed", timeout=5)
        assert done["output"]["timed_out"] is True
        assert len(reminded) == 1
    finally:
        signals.hook_reminder.remove(remember)
