"""Workflows for the rerun and replay tests. Their step bodies count their calls in `test_effects`
(per run tag), so a test can tell a reused result from a step that ran again — also when the CLI,
in another process, starts the rerun and the in-process worker executes it."""

from __future__ import annotations

import os

import psycopg
from pydantic import BaseModel

from app.engine.errors import FatalError
from app.engine.registry import workflow
from app.engine.run import Run

# The "bug" of the replay tests: while True, the step "deliver" fails for good.
BROKEN = {"deliver": True}


class Tagged(BaseModel):
    tag: str
    approval: bool = False


def _record(tag: str, name: str) -> None:
    with psycopg.connect(os.environ["BATON_TEST_DB"], autocommit=True) as conn:
        conn.execute("INSERT INTO test_effects (run_id, name) VALUES (%s, %s)", (tag, name))


def counted(name: str, tag: str, value: dict) -> dict:
    _record(tag, name)
    return value


async def note(conn, tag: str) -> int:
    """An effect through run.transaction: committed with its journal row, so exactly once."""
    await conn.execute("INSERT INTO test_effects (run_id, name) VALUES (%s, 'note')", (tag,))
    return 1


def deliver(tag: str) -> str:
    _record(tag, "deliver")
    if BROKEN["deliver"]:
        raise FatalError("the delivery service rejected the request")
    return "delivered"


@workflow(
    name="test-rerun",
    title="Rerun test",
    description="three counted steps around an approval",
    input=Tagged,
    hidden=True,
)
async def rerun_workflow(run: Run, inp: Tagged) -> dict:
    first = await run.step("first", counted, "first", inp.tag, {"n": 1})
    await run.transaction("note", lambda conn: note(conn, inp.tag))
    if inp.approval:
        await run.hook("approve", "approval")
    middle = await run.step("middle", counted, "middle", inp.tag, {"n": first["n"] + 1})
    last = await run.step("last", counted, "last", inp.tag, {"n": middle["n"] + 1})
    return {"n": last["n"], "tag": inp.tag}


@workflow(
    name="test-replay",
    title="Replay test",
    description="a step that fails until it is fixed",
    input=Tagged,
    hidden=True,
)
async def replay_workflow(run: Run, inp: Tagged) -> dict:
    await run.step("prepare", counted, "prepare", inp.tag, {"ready": True})
    return {"result": await run.step("deliver", deliver, inp.tag)}
