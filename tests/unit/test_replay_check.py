"""The deploy check's replay (app/engine/replay_check.py) on journals written by hand: it answers
from the journal, stops at its end, and names what would break — without running any step body."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from pydantic import BaseModel

from app.engine import replay_check
from app.engine.errors import StepFailed
from app.engine.registry import workflow
from app.engine.replay_check import replay_run

CALLED: list[str] = []


def body(name: str) -> str:
    CALLED.append(name)  # a step body: the check must never call one
    return name


async def child(item: int) -> int:
    return item


class Inp(BaseModel):
    topic: str


@workflow(name="unit-replay", title="t", description="d", input=Inp, hidden=True)
async def flow(run, inp: Inp) -> dict:
    when = run.now()
    found = await run.step("gather", body, inp.topic)
    with contextlib.suppress(StepFailed):  # a failed step the workflow handles
        await run.step("optional", body, "x")
    a, b = await asyncio.gather(run.step("left", body, "l"), run.step("right", body, "r"))
    parts = await run.map("fan-out", child, [1, 2], concurrency=2)
    decision = await run.hook("approve", show={"found": found["title"], "parts": parts})
    await run.sleep("cool off", 60)
    return {"when": when.isoformat(), "action": decision.action, "a": a, "b": b}


@workflow(name="unit-replay-waits", title="t", description="d", input=Inp, hidden=True)
async def waits(run, inp: Inp) -> None:
    await run.step("gather", body, inp.topic)
    await asyncio.sleep(30)  # not durable: a real run would hold its worker here


def entry(seq, name, kind, status="completed", output=None, error=None, fn=None):
    return [seq, name, kind, status, output, error, fn]


JOURNAL = [
    entry(0, "now", "now", output="2026-12-04T10:00:00+00:00"),
    entry(1, "gather", "step", output={"title": "tides"}),
    entry(2, "optional", "step", "failed", error={"type": "RuntimeError", "message": "no"}),
    entry(3, "left", "step", output="l"),
    entry(4, "right", "step", output="r"),
    entry(5, "fan-out", "map", output=[1, 2], fn="tests.unit.test_replay_check:child"),
    entry(6, "approve", "hook", "waiting"),
]


def row(journal, workflow="unit-replay", version=1, input=None):
    return {
        "id": "run-1",
        "owner_id": 7,
        "owner_email": "o@example.test",
        "workflow": workflow,
        "version": version,
        "status": "waiting",
        "chat_id": None,
        "input": input or {"topic": "tides"},
        "journal": journal,
    }


async def test_a_run_that_agrees_with_the_code_up_to_its_journals_end_is_safe():
    CALLED.clear()
    assert await replay_run(row(JOURNAL)) is None
    completed = JOURNAL[:6] + [
        entry(6, "approve", "hook", output={"action": "approve", "data": {}}),
        entry(7, "cool off", "sleep", "sleeping"),
    ]
    assert await replay_run(row(completed)) is None
    assert CALLED == []


async def test_a_renamed_or_rekinded_call_is_reported_at_its_position():
    renamed = JOURNAL[:3] + [entry(3, "lefty", "step", output="l")] + JOURNAL[4:]
    risk = await replay_run(row(renamed))
    assert (risk.problem, risk.position, risk.journal_step, risk.code_step) == (
        "diverged",
        3,
        {"name": "lefty", "kind": "step"},
        {"name": "left", "kind": "step"},
    )
    rekinded = JOURNAL[:1] + [entry(1, "gather", "transaction", output={"title": "t"})]
    risk = await replay_run(row(rekinded))
    assert (
        risk.code_step == {"name": "gather", "kind": "step"}
        and risk.journal_step["kind"] == "transaction"
    )


async def test_code_that_now_ends_before_the_journal_is_reported():
    longer = JOURNAL[:6] + [
        entry(6, "approve", "hook", output={"action": "approve", "data": {}}),
        entry(7, "cool off", "sleep"),
        entry(8, "publish", "step", "retrying"),
    ]
    risk = await replay_run(row(longer))
    assert (risk.problem, risk.position, risk.journal_step, risk.code_step) == (
        "diverged",
        8,
        {"name": "publish", "kind": "step"},
        None,
    )


async def test_missing_versions_invalid_input_and_gone_map_functions_are_reported():
    assert (await replay_run(row(JOURNAL, version=9))).problem == "workflow_missing"
    assert (await replay_run(row(JOURNAL, workflow="unit-gone"))).problem == "workflow_missing"
    risk = await replay_run(row(JOURNAL, input={"subject": "x"}))
    assert risk.problem == "input_invalid" and "topic" in risk.message
    running_map = JOURNAL[:5] + [
        entry(5, "fan-out", "map", "running", fn="tests.unit.test_replay_check:moved_away")
    ]
    risk = await replay_run(row(running_map))
    assert (risk.problem, risk.position) == ("map_function_missing", 5)


async def test_code_that_fails_on_its_own_history_or_waits_outside_the_journal_is_reported(
    monkeypatch,
):
    old_shape = (
        JOURNAL[:1] + [entry(1, "gather", "step", output={"heading": "tides"})] + JOURNAL[2:]
    )
    risk = await replay_run(row(old_shape))
    assert risk.problem == "replay_error" and "KeyError" in risk.message

    monkeypatch.setattr(replay_check, "REPLAY_TIMEOUT_S", 0.05)
    risk = await replay_run(
        row(
            [entry(0, "gather", "step", output={}), entry(1, "x", "step")],
            workflow="unit-replay-waits",
        )
    )
    assert risk.problem == "replay_error" and "durable call" in risk.message


@pytest.mark.parametrize("attr", ["idempotency_key"])
def test_step_only_attributes_behave_as_outside_a_step(attr):
    run = replay_check.ReplayRun(row([]), None)
    with pytest.raises(RuntimeError):
        getattr(run, attr)
    assert run.attempt == 0
