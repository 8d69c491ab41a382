"""Workflows the engine benchmark runs (loaded by its worker processes via BATON_WORKFLOW_MODULES)."""

import os

from pydantic import BaseModel

from app.engine.registry import workflow
from app.engine.run import Run


class BenchInput(BaseModel):
    before: int = 0
    sleep_s: float = 0
    output_bytes: int = 0


async def noop() -> None:
    return None


async def payload(size: int) -> str:
    return os.urandom(size // 2).hex()  # incompressible, like a model's text to TOAST


@workflow(
    name="bench-resume",
    title="Bench resume",
    description="steps, hook, step",
    input=BenchInput,
    hidden=True,
)
async def bench_resume(run: Run, inp: BenchInput) -> None:
    for i in range(inp.before):
        await run.step(f"s{i}", payload, inp.output_bytes) if inp.output_bytes else await run.step(
            f"s{i}", noop
        )
    if inp.sleep_s:
        await run.sleep("nap", inp.sleep_s)
    else:
        await run.hook("gate", "approval")
    await run.step("after", noop)


class LoadInput(BaseModel):
    steps: int = 5
    timeout_s: float = 86400
    sleep_s: float = 0


# Not hidden: the load test starts it through the API, as a user would (only benchmark processes load it).
@workflow(
    name="bench-load",
    title="Bench load",
    description="steps, a review with a timeout, a step",
    input=LoadInput,
)
async def bench_load(run: Run, inp: LoadInput) -> dict:
    for i in range(inp.steps):
        await run.step(f"s{i}", noop)
    if inp.sleep_s:
        await run.sleep("nap", inp.sleep_s)
    decision = await run.hook(
        "review", "approval", show={"text": "Load test: approve?"}, timeout=inp.timeout_s
    )
    await run.step("after", noop)
    return {"approved": decision.approved, "timed_out": decision.timed_out}
