"""The workflow bench/schedules.py schedules (loaded by its workers via BATON_WORKFLOW_MODULES)."""

from pydantic import BaseModel

from app.engine.registry import workflow
from app.engine.run import Run


class TickInput(BaseModel):
    pass


async def noop() -> None:
    return None


@workflow(
    name="bench-tick",
    title="Bench tick",
    description="one no-op step",
    input=TickInput,
    hidden=True,
)
async def bench_tick(run: Run, inp: TickInput) -> None:
    await run.step("tick", noop)
