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


@workflow(name="bench-resume", title="Bench resume", description="steps, hook, step", input=BenchInput, hidden=True)
async def bench_resume(run: Run, inp: BenchInput) -> None:
    for i in range(inp.before):
        await run.step(f"s{i}", payload, inp.output_bytes) if inp.output_bytes else await run.step(f"s{i}", noop)
    if inp.sleep_s:
        await run.sleep("nap", inp.sleep_s)
    else:
        await run.hook("gate", "approval")
    await run.step("after", noop)
