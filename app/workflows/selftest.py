"""`selftest`: an operator workflow that exercises every engine feature an operator wants to see
working on a deployment (steps, retries, a durable sleep, an approval, a fan-out)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from app.engine.errors import StepFailed
from app.engine.registry import workflow
from app.engine.run import Run
from app.engine.values import RetryPolicy


class SelftestInput(BaseModel):
    steps: int = Field(10, ge=0, le=100_000, description="No-op steps to run")
    step_ms: float = Field(0, ge=0, le=60_000, description="How long each step takes, in ms")
    sleep_s: float = Field(
        0, ge=0, le=7 * 86400, description="A durable sleep, in seconds (0: none)"
    )
    approval: bool = Field(False, description="Wait for an approval")
    fail_attempts: int = Field(0, ge=0, le=10, description="Failing attempts of the 'flaky' step")
    fan_out: int = Field(0, ge=0, le=10_000, description="Children of a fan-out (0: none)")
    retry_initial_s: float = Field(0.05, ge=0, le=60, description="First retry backoff")


async def noop(step_ms: float) -> None:
    if step_ms:
        await asyncio.sleep(step_ms / 1000)


async def flaky(run: Run, fail_attempts: int) -> int:
    if run.attempt <= fail_attempts:
        raise RuntimeError(f"planned failure {run.attempt} of {fail_attempts}")
    return run.attempt


async def square(item: int) -> int:
    return item * item


@workflow(
    name="selftest",
    title="Self-test",
    description="Runs no-op steps, a retry, a sleep, an approval and a fan-out to check a deployment.",
    input=SelftestInput,
    hidden=True,
    operator=True,
)
async def selftest(run: Run, inp: SelftestInput) -> dict:
    output: dict = {"steps": inp.steps}
    for i in range(inp.steps):
        await run.step(f"step {i + 1}", noop, inp.step_ms)
    if inp.fail_attempts:
        policy = RetryPolicy(max_attempts=inp.fail_attempts + 1, initial_s=inp.retry_initial_s)
        try:
            output["flaky_attempts"] = await run.step(
                "flaky", flaky, run, inp.fail_attempts, retry=policy
            )
        except StepFailed as exc:
            output["flaky_failed"] = str(exc)
    if inp.sleep_s:
        await run.sleep("sleep", inp.sleep_s)
    if inp.fan_out:
        squares = await run.map("fan-out", square, list(range(inp.fan_out)), concurrency=8)
        output["fan_out_sum"] = sum(squares)
    if inp.approval:
        decision = await run.hook(
            "approval", "approval", show={"text": "Self-test: approve to finish."}
        )
        output["approved"] = decision.approved
    return output
