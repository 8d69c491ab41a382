"""A workflow for the schedule tests, importable by worker subprocesses through
BATON_WORKFLOW_MODULES: it holds for a while (overlap tests), and fails when told to (failures in a
row). Hidden, so it stays out of every picker; tests create its schedules with a Draft directly."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from app.engine.errors import FatalError
from app.engine.registry import workflow
from app.engine.run import Run


class TickInput(BaseModel):
    hold_s: float = 0
    fail: bool = False


async def hold(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


def fail_now() -> None:
    raise FatalError("told to fail")


@workflow(
    name="test-tick",
    title="Schedule test",
    description="holds, or fails",
    input=TickInput,
    hidden=True,
)
async def tick(run: Run, inp: TickInput) -> dict:
    if inp.hold_s:
        await run.step("hold", hold, inp.hold_s)
    if inp.fail:
        await run.step("fail", fail_now)
    return {"ok": True}
