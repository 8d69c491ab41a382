"""Rerun from a step and bulk replay, as a user and an operator use them: a rerun reuses the
original's results before the chosen step (their bodies are not called again), executes the rest,
and leaves the original as it was; a replay of many failed runs after the bug is fixed completes
them all, paced, and can be stopped."""

import json
import secrets

import pytest

from app.engine import commands, replays
from app.engine.errors import InputInvalid, InvalidState, ReplayNotFound, RunNotFound
from tests.integration.engine import rerun_workflows as W
from tests.integration.engine.test_cli_runs import baton
from tests.support.engine import hook_token, journal, make_user, run_row, wait_status
from tests.support.waiting import wait_for

MODULES = "tests.integration.engine.rerun_workflows"


async def calls(pool, tag: str) -> dict[str, int]:
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT name, count(*) AS n FROM test_effects WHERE run_id = %s GROUP BY name",
                (tag,),
            )
        ).fetchall()
    return {r["name"]: r["n"] for r in rows}


async def start(pool, owner, workflow, **input):
    async with pool.connection() as conn:
        run, _ = await commands.start_run(conn, owner_id=owner, workflow=workflow, input=input)
    return run


async def rerun(pool, run_id, owner, **kwargs):
    async with pool.connection() as conn:
        source, plan = await commands.plan_rerun(conn, run_id, owner_id=owner, **kwargs)
        run, _ = await commands.start_run(
            conn,
            owner_id=source.owner_id,
            workflow=source.workflow,
            input=source.input,
            title=source.title,
            rerun=plan,
        )
    return run


@pytest.fixture
def tag():
    return f"t-{secrets.token_hex(6)}"


async def test_rerun_from_a_middle_step_with_an_edited_output_reuses_earlier_steps(
    pool, worker, user, tag
):
    original = await start(pool, user, "test-rerun", tag=tag, approval=True)
    await wait_status(pool, original.id, "waiting")
    async with pool.connection() as conn:
        from app.engine.hooks import resolve_hook

        await resolve_hook(
            conn, await hook_token(pool, original.id), "approve", {}, decided_by="boss"
        )
    done = await wait_status(pool, original.id, "completed")
    assert done["output"] == {"n": 3, "tag": tag}
    before = await journal(pool, original.id)
    assert await calls(pool, tag) == {"first": 1, "note": 1, "middle": 1, "last": 1}

    again = await rerun(pool, original.id, user, from_step="middle", step_output={"n": 10})
    finished = await wait_status(pool, again.id, "completed")
    # "first", the transaction "note" and the approval are reused (no new call, no second effect,
    # no new wait), "middle" takes the edited output, "last" runs again on it.
    assert finished["output"] == {"n": 11, "tag": tag}
    assert await calls(pool, tag) == {"first": 1, "note": 1, "middle": 1, "last": 2}
    assert finished["rerun_of"] == original.id
    assert (
        finished["rerun_from"]["step"] == "middle"
        and finished["rerun_from"]["edited_output"] is True
    )
    async with pool.connection() as conn:
        hooks = await (
            await conn.execute(
                "SELECT status, action, decided_by FROM hooks WHERE run_id = %s", (again.id,)
            )
        ).fetchall()
    assert hooks == [{"status": "resolved", "action": "approve", "decided_by": "boss"}]
    # The journal shows what each step was given.
    steps = {s["name"]: s for s in await journal(pool, again.id)}
    assert steps["last"]["detail"]["args"]["args"] == ["last", tag, {"n": 11}]
    # The original is untouched.
    assert await journal(pool, original.id) == before
    assert (await run_row(pool, original.id))["output"] == {"n": 3, "tag": tag}


async def test_rerun_from_a_hook_waits_again_and_from_the_start_runs_everything(
    pool, worker, user, tag
):
    original = await start(pool, user, "test-rerun", tag=tag, approval=True)
    await wait_status(pool, original.id, "waiting")
    async with pool.connection() as conn:
        from app.engine.hooks import resolve_hook

        await resolve_hook(
            conn, await hook_token(pool, original.id), "approve", {}, decided_by="boss"
        )
    await wait_status(pool, original.id, "completed")

    waits = await rerun(pool, original.id, user, from_step="approve")
    await wait_status(pool, waits.id, "waiting")
    assert await calls(pool, tag) == {"first": 1, "note": 1, "middle": 1, "last": 1}

    edited = await rerun(pool, original.id, user, input={"tag": tag, "approval": False})
    done = await wait_status(pool, edited.id, "completed")
    assert done["output"] == {"n": 3, "tag": tag} and done["rerun_from"]["edited_input"] is True
    assert await calls(pool, tag) == {"first": 2, "note": 2, "middle": 2, "last": 2}


async def test_rerun_refuses_another_users_run_and_impossible_plans(pool, worker, user, tag):
    original = await start(pool, user, "test-rerun", tag=tag, approval=True)
    await wait_status(pool, original.id, "waiting")
    other = await make_user(pool)
    async with pool.connection() as conn:
        with pytest.raises(RunNotFound):
            await commands.plan_rerun(conn, original.id, owner_id=other)
        with pytest.raises(InputInvalid) as missing:
            await commands.plan_rerun(conn, original.id, owner_id=user, from_step="no such step")
        assert missing.value.errors[0]["field"] == "from_step"
        with pytest.raises(InputInvalid) as hook_output:
            await commands.plan_rerun(
                conn, original.id, owner_id=user, from_step="approve", step_output={}
            )
        assert hook_output.value.errors[0]["field"] == "step_output"
    with pytest.raises(InputInvalid):  # "middle" is not reached yet: the approval still waits
        await rerun(pool, original.id, user, from_step="middle")
    with pytest.raises(InputInvalid):  # the edited input is validated like any start's
        await rerun(pool, original.id, user, input={"approval": "maybe"})


async def test_cli_rerun_prints_the_new_run_and_refuses_another_owner(
    pool, worker, user, tag, database_url, tmp_path
):
    original = await start(pool, user, "test-rerun", tag=tag)
    await wait_status(pool, original.id, "completed")
    env = ("--from-step", "last", "--step-output", '{"n": 42}')
    done = await baton(
        database_url, tmp_path, "runs", "rerun", str(original.id), *env, modules=MODULES
    )
    assert done.returncode == 0, done.stderr
    new_id = done.stdout.strip()
    assert (await wait_status(pool, new_id, "completed"))["output"] == {"n": 42, "tag": tag}
    assert await calls(pool, tag) == {"first": 1, "note": 1, "middle": 1, "last": 1}
    async with pool.connection() as conn:
        email = (
            await (
                await conn.execute(
                    "SELECT email FROM users WHERE id = %s", (await make_user(pool),)
                )
            ).fetchone()
        )["email"]
    refused = await baton(
        database_url, tmp_path, "runs", "rerun", str(original.id), "--as", email, modules=MODULES
    )
    assert refused.returncode == 1 and "no such run" in refused.stderr


async def test_bulk_replay_of_50_failed_runs_after_the_fix_completes_them_all(
    pool, worker, database_url, tmp_path
):
    owner = await make_user(pool)
    async with pool.connection() as conn:
        email = (
            await (await conn.execute("SELECT email FROM users WHERE id = %s", (owner,))).fetchone()
        )["email"]
    W.BROKEN["deliver"] = True
    tags = [f"r-{secrets.token_hex(4)}-{i}" for i in range(50)]
    originals = [await start(pool, owner, "test-replay", tag=t) for t in tags]
    for run in originals:
        await wait_status(pool, run.id, "failed", timeout=60)
    args = ("runs", "replay", "--workflow", "test-replay", "--status", "failed", "--as", email)

    dry = await baton(database_url, tmp_path, *args, "--dry-run", "--json", modules=MODULES)
    assert dry.returncode == 0, dry.stderr
    shown = json.loads(dry.stdout)
    assert shown["replay_id"] is None and {r["id"] for r in shown["selected"]} == {
        str(r.id) for r in originals
    }
    async with pool.connection() as conn:
        counts = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM runs WHERE owner_id = %s) AS runs, (SELECT count(*) FROM replays) AS replays",
                (owner,),
            )
        ).fetchone()
    assert counts["runs"] == 50  # the dry run started nothing
    before_replays = counts["replays"]

    W.BROKEN["deliver"] = False  # the fix is deployed
    try:
        done = await baton(
            database_url, tmp_path, *args, "--from-step", "failed", "--wait", modules=MODULES
        )
        assert done.returncode == 0, done.stderr
        lines = [line.split() for line in done.stdout.strip().splitlines()]
        assert len(lines) == 50 and all(state == "started" for _, _, state in lines)
        new_ids = [new for _, new, _ in lines]
        for new_id in new_ids:
            row = await wait_status(pool, new_id, "completed", timeout=60)
            assert row["output"] == {"result": "delivered"} and row["owner_id"] == owner
    finally:
        W.BROKEN["deliver"] = True
    # From the failed step: "prepare" was reused, "deliver" ran once more.
    for t in tags:
        assert await calls(pool, t) == {"prepare": 1, "deliver": 2}
    async with pool.connection() as conn:
        replay = await (
            await conn.execute("SELECT * FROM replays ORDER BY id DESC LIMIT 1")
        ).fetchone()
        assert replay["status"] == "completed" and replay["total"] == 50
        assert (await (await conn.execute("SELECT count(*) AS n FROM replays")).fetchone())[
            "n"
        ] == before_replays + 1
        usage = await (
            await conn.execute("SELECT runs FROM usage_monthly WHERE user_id = %s", (owner,))
        ).fetchone()
    assert usage["runs"] == 100  # every replayed run counts as a run of its owner


async def test_a_replay_is_paced_and_can_be_cancelled_midway(pool, worker, monkeypatch):
    owner = await make_user(pool)
    W.BROKEN["deliver"] = True
    originals = [
        await start(pool, owner, "test-replay", tag=f"c-{secrets.token_hex(4)}") for _ in range(30)
    ]
    for run in originals:
        await wait_status(pool, run.id, "failed", timeout=60)
    # One slot for replays: at most one replayed run queued or running at a time.
    monkeypatch.setenv("BATON_REPLAY_WORKER_SHARE", "0.01")
    async with pool.connection() as conn:
        selected = await replays.select_runs(
            conn, workflow="test-replay", statuses=["failed"], owner_id=owner
        )
        assert len(selected) == 30
        replay = await replays.create_replay(
            conn,
            requested_by=owner,
            owner_id=owner,
            workflow="test-replay",
            statuses=["failed"],
            from_step="start",
            selected=selected,
        )

    async def some_started():
        async with pool.connection() as conn:
            found = await replays.get_replay(conn, replay["id"], user_id=owner)
        return found["counts"]["started"] >= 3 and found

    await wait_for(some_started, timeout=30, what="a few replayed runs to start")
    async with pool.connection() as conn:
        with pytest.raises(ReplayNotFound):  # another user: not found
            await replays.cancel_replay(conn, replay["id"], user_id=await make_user(pool))
        cancelled = await replays.cancel_replay(conn, replay["id"], user_id=owner)
    started = cancelled["counts"]["started"]
    assert cancelled["status"] == "cancelled" and 3 <= started < 30
    assert cancelled["counts"]["skipped"] == 30 - started
    async with pool.connection() as conn:
        later = await replays.get_replay(conn, replay["id"], user_id=owner)
        with pytest.raises(InvalidState):
            await replays.cancel_replay(conn, replay["id"], user_id=owner)
    assert later["counts"]["started"] == started  # nothing more starts after the cancel
