"""Workflows used by the engine tests, importable by worker subprocesses through
BATON_WORKFLOW_MODULES. Step bodies record each execution in `test_effects` (on their own
connection, outside the engine) so tests can count how often a body really ran."""

from __future__ import annotations

import asyncio
import hashlib
import os

import psycopg
from pydantic import BaseModel

from app.engine.errors import FatalError, StepFailed
from app.engine.registry import workflow
from app.engine.run import Run
from app.engine.values import RateLimit, RetryPolicy, StepOutput, Usage

EFFECTS = """
CREATE TABLE IF NOT EXISTS test_effects (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id text, name text, pid int, at timestamptz DEFAULT clock_timestamp(), finished_at timestamptz
)
"""


async def record(run_id: str, name: str, *, hold_s: float = 0, hold_once: bool = False) -> None:
    """Record that a body started (and, after `hold_s`, that it finished). With `hold_once`, only
    the first execution holds: a crash test kills it there, and the re-execution runs through."""
    async with await psycopg.AsyncConnection.connect(
        os.environ["BATON_TEST_DB"], autocommit=True
    ) as conn:
        if hold_once:
            seen = await (
                await conn.execute(
                    "SELECT count(*) FROM test_effects WHERE run_id = %s AND name = %s",
                    (run_id, name),
                )
            ).fetchone()
            hold_s = 0 if seen[0] else hold_s
        row = await (
            await conn.execute(
                "INSERT INTO test_effects (run_id, name, pid) VALUES (%s, %s, %s) RETURNING id",
                (run_id, name, os.getpid()),
            )
        ).fetchone()
        if hold_s:
            await asyncio.sleep(hold_s)
        await conn.execute(
            "UPDATE test_effects SET finished_at = clock_timestamp() WHERE id = %s", (row[0],)
        )


class CrashInput(BaseModel):
    step_hold_s: float = 0
    sleep_s: float = 0
    approval: bool = False
    fan_out: int = 0
    child_hold_s: float = 0


async def child(item: dict) -> int:
    await record(item["run_id"], f"child {item['i']}", hold_s=item["hold_s"])
    return item["i"] * 10


@workflow(
    name="test-crashy",
    title="Crash test",
    description="steps, sleep, hook, fan-out",
    input=CrashInput,
    hidden=True,
)
async def crashy(run: Run, inp: CrashInput) -> dict:
    rid = str(run.id)
    await run.step("one", record, rid, "one")
    await run.step("slow", record, rid, "slow", hold_s=inp.step_hold_s, hold_once=True)
    await run.step("three", record, rid, "three")
    if inp.sleep_s:
        await run.sleep("nap", inp.sleep_s)
    await run.step("after nap", record, rid, "after nap")
    approved = None
    if inp.approval:
        approved = (await run.hook("review", "approval")).approved
    await run.step("after review", record, rid, "after review")
    results = []
    if inp.fan_out:
        items = [{"run_id": rid, "i": i, "hold_s": inp.child_hold_s} for i in range(inp.fan_out)]
        results = await run.map("children", child, items, concurrency=2)
    await run.step("last", record, rid, "last")
    return {"approved": approved, "children": results}


class MapInput(BaseModel):
    items: int
    concurrency: int = 3
    hold_s: float = 0.1
    limit_calls: int = 0
    limit_per_s: float = 1.0


async def limited_child(item: dict) -> int:
    await record(item["run_id"], f"item {item['i']}", hold_s=item["hold_s"])
    return item["i"]


@workflow(name="test-map", title="Map test", description="fan-out", input=MapInput, hidden=True)
async def map_workflow(run: Run, inp: MapInput) -> list:
    items = [{"run_id": str(run.id), "i": i, "hold_s": inp.hold_s} for i in range(inp.items)]
    limit = (
        RateLimit(f"test-{run.id}", inp.limit_calls, inp.limit_per_s) if inp.limit_calls else None
    )
    return await run.map("items", limited_child, items, concurrency=inp.concurrency, limit=limit)


class ErrorInput(BaseModel):
    mode: str  # "fatal", "exhausted", "handled"


async def always_fails(kind: str) -> None:
    if kind == "fatal":
        raise FatalError("this cannot work")
    raise RuntimeError("flaky dependency down")


@workflow(
    name="test-errors", title="Errors", description="failure paths", input=ErrorInput, hidden=True
)
async def errors(run: Run, inp: ErrorInput) -> dict:
    policy = RetryPolicy(max_attempts=2, initial_s=0.05)
    if inp.mode == "handled":
        try:
            await run.step("doomed", always_fails, "retryable", retry=policy)
        except StepFailed as exc:
            return {"handled": exc.error["message"]}
    await run.step(
        "doomed", always_fails, "fatal" if inp.mode == "fatal" else "retryable", retry=policy
    )
    return {}


class BlipInput(BaseModel):
    blips: int = 1


@workflow(
    name="test-db-blip",
    title="Database blip",
    description="loses its connection once",
    input=BlipInput,
    hidden=True,
)
async def db_blip(run: Run, inp: BlipInput) -> dict:
    rid = str(run.id)
    await run.step("before", record, rid, "before")
    async with await psycopg.AsyncConnection.connect(
        os.environ["BATON_TEST_DB"], autocommit=True
    ) as conn:
        seen = (
            await (
                await conn.execute(
                    "SELECT count(*) FROM test_effects WHERE run_id = %s AND name = 'blip'", (rid,)
                )
            ).fetchone()
        )[0]
        if seen < inp.blips:
            await conn.execute(
                "INSERT INTO test_effects (run_id, name) VALUES (%s, 'blip')", (rid,)
            )
            raise psycopg.OperationalError("server closed the connection unexpectedly")
    await run.step("after", record, rid, "after")
    return {"blips": seen}


class HookInput(BaseModel):
    timeout_s: float | None = None
    remind_before_s: float | None = None
    assignee: str | None = None


@workflow(name="test-hook", title="Hook", description="one approval", input=HookInput, hidden=True)
async def hook_workflow(run: Run, inp: HookInput) -> dict:
    result = await run.hook(
        "approve it",
        "approval",
        show={"text": "Please approve"},
        timeout=inp.timeout_s,
        remind_before=inp.remind_before_s,
        assignee=inp.assignee,
    )
    return {"action": result.action, "timed_out": result.timed_out, "data": result.data}


class TeamReviewInput(BaseModel):
    assign_role: str | None = None
    assignee: str | None = None
    required: int = 1


@workflow(
    name="test-team-review",
    title="Team review",
    description="one approval, assigned",
    input=TeamReviewInput,
    hidden=True,
)
async def team_review_workflow(run: Run, inp: TeamReviewInput) -> dict:
    """A review assigned to a role of the run's team (or a person); the step after it records each
    time it runs, so a test can see the run resumed exactly once."""
    result = await run.hook(
        "team review",
        "approval",
        show={"heading": "Approve the plan", "content": "The **plan**."},
        assignee=inp.assignee,
        assign_role=inp.assign_role,
        required=inp.required,
    )
    await run.step("after review", record, str(run.id), "after review")
    return {"action": result.action, "decided_by": result.decided_by}


# Determinism: the step name comes from this module-level value, which a test changes under a
# running run (as a deploy of new code would).
STEP_NAME = {"value": "original"}


@workflow(
    name="test-changing", title="Changing", description="code changes", input=HookInput, hidden=True
)
async def changing(run: Run, inp: HookInput) -> str:
    await run.step(STEP_NAME["value"], record, str(run.id), "changing")
    await run.hook("gate", "approval")
    await run.step("end", record, str(run.id), "end")
    return STEP_NAME["value"]


class Empty(BaseModel):
    pass


@workflow(
    name="test-versioned", title="Versioned", description="v1", input=Empty, version=1, hidden=True
)
async def versioned_v1(run: Run, inp: Empty) -> str:
    await run.hook("gate", "approval")
    return "v1"


@workflow(name="test-slow-step", title="Slow", description="a long step", input=Empty, hidden=True)
async def slow_step(run: Run, inp: Empty) -> None:
    await run.step("long", record, str(run.id), "long", hold_s=30)


@workflow(
    name="test-values",
    title="Values",
    description="journaled now and uuid",
    input=Empty,
    hidden=True,
)
async def values(run: Run, inp: Empty) -> dict:
    first = {"now": run.now().isoformat(), "uuid": str(run.uuid())}
    await run.hook("gate", "approval")
    return {"first": first, "again": {"now": run.now().isoformat()}}


async def insert_effect(conn, run_id: str) -> int:
    row = await (
        await conn.execute(
            "INSERT INTO test_effects (run_id, name) VALUES (%s, 'transaction') RETURNING id",
            (run_id,),
        )
    ).fetchone()
    return row["id"]


@workflow(
    name="test-transaction", title="Tx", description="transaction step", input=Empty, hidden=True
)
async def transaction(run: Run, inp: Empty) -> int:
    effect = await run.transaction("write", lambda conn: insert_effect(conn, str(run.id)))
    await run.hook("gate", "approval")
    return effect


@workflow(
    name="test-deadline",
    title="Deadline",
    description="a short max duration",
    input=Empty,
    hidden=True,
    max_duration=__import__("datetime").timedelta(seconds=1),
)
async def deadline(run: Run, inp: Empty) -> None:
    await run.hook("forever", "approval")


async def priced_call(tokens_in: int, tokens_out: int) -> StepOutput:
    return StepOutput("answer", usage=Usage("gpt-4o", tokens_in, tokens_out))


@workflow(name="test-usage", title="Usage", description="a model step", input=Empty, hidden=True)
async def usage(run: Run, inp: Empty) -> str:
    await run.step("plain", record, str(run.id), "plain")
    return await run.step("model", priced_call, 2000, 1000)


async def fails_first_time(run_id: str) -> str:
    """Fails for good on its first execution; a retried run passes."""
    async with await psycopg.AsyncConnection.connect(
        os.environ["BATON_TEST_DB"], autocommit=True
    ) as conn:
        seen = (
            await (
                await conn.execute(
                    "SELECT count(*) FROM test_effects WHERE run_id = %s AND name = 'flaky once'",
                    (run_id,),
                )
            ).fetchone()
        )[0]
    await record(run_id, "flaky once")
    if not seen:
        raise FatalError("the backend was down")
    return "recovered"


@workflow(
    name="test-flaky-once",
    title="Flaky once",
    description="fails, then passes on retry",
    input=Empty,
    hidden=True,
)
async def flaky_once(run: Run, inp: Empty) -> str:
    await run.step("prepare", record, str(run.id), "prepare")
    return await run.step("call backend", fails_first_time, str(run.id))


@workflow(
    name="test-artifact", title="Artifact", description="stores a file", input=Empty, hidden=True
)
async def artifact(run: Run, inp: Empty) -> str:
    from app.steps.artifacts import save_artifact

    return await run.transaction(
        "save",
        lambda conn: save_artifact(
            conn,
            owner_id=run.owner_id,
            run_id=run.id,
            name="notes.txt",
            content_type="text/plain",
            data=b"hello",
        ),
    )


class WaitIfInput(BaseModel):
    wait: bool


@workflow(
    name="test-wait-if",
    title="Wait if",
    description="a hook that waits only if needed",
    input=WaitIfInput,
    hidden=True,
)
async def wait_if_flow(run: Run, inp: WaitIfInput) -> dict:
    async def needed(conn) -> bool:
        await record(str(run.id), "checked")
        return inp.wait

    first = await run.hook("maybe wait", "approval", wait_if=needed)
    last = await run.hook("then wait", "approval")
    return {"first": first.to_json(), "last": last.action}


def noise(seed: str, n: int) -> list[str]:
    """Text that TOAST cannot compress, the same for the same seed."""
    return [hashlib.sha256(f"{seed}{i}".encode()).hexdigest() for i in range(n)]


async def large_text(seed: str) -> str:
    return "".join(noise(seed, 100))


async def large_record(seed: str) -> dict:
    return {"seed": seed, "items": noise(seed, 100)}


LARGE_NAME = {"value": "text"}


@workflow(
    name="test-large-outputs",
    title="Large outputs",
    description="outputs left in Postgres on resume",
    input=Empty,
    hidden=True,
)
async def large_outputs(run: Run, inp: Empty) -> dict:
    text = await run.step(LARGE_NAME["value"], large_text, str(run.id))
    record_ = await run.step("record", large_record, str(run.id)[:8])
    record_["items"].append("changed by the code")  # must not leak into the next replay
    await run.hook("gate", "approval")
    again = await run.step("record again", large_record, str(run.id)[:8])
    return {
        "text": text == "".join(noise(str(run.id), 100)),
        "record": record_["items"][:100] == again["items"],
        "items": len(record_["items"]),
    }


# Set by a test: the step after the first hook fails (the run can then be retried from it).
KEPT_FAILS = {"value": False}


async def echo(value):
    return value


async def fail_if_asked() -> str:
    if KEPT_FAILS["value"]:
        raise FatalError("asked to fail")
    return "passed"


@workflow(
    name="test-kept-journal",
    title="Kept journal",
    description="steps, a hook, steps, a hook: resumed from what its worker kept",
    input=Empty,
    hidden=True,
)
async def kept_journal(run: Run, inp: Empty) -> dict:
    first = [await run.step(f"a{i}", echo, i) for i in range(5)]
    stamp = run.uuid()
    record_ = await run.step("record", echo, {"zeta": [1, 2], "b": 0.5, "alpha": None})
    record_["zeta"].append("changed by the code")  # must not leak into the next replay
    await run.hook("one", "approval")
    second = [await run.step(f"b{i}", echo, 10 + i) for i in range(3)]
    checked = await run.step("check", fail_if_asked)
    await run.hook("two", "approval")
    last = await run.step("c", echo, 100)
    return {
        "first": first,
        "second": second,
        "checked": checked,
        "last": last,
        "uuid": str(stamp),
        "record": record_,
        "keys": list(record_),
    }
