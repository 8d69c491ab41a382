"""The workflow `bench/check_deploy.py` puts 10,000 runs of in flight (loaded by `baton
check-deploy` through BATON_WORKFLOW_MODULES). With BENCH_RENAME_LAST_STEP set, its last step has
another name: the careless deploy, under which every run in flight would diverge."""

import os

from pydantic import BaseModel

from app.engine.registry import workflow
from app.engine.run import Run

SECTIONS = 20


class ReviewInput(BaseModel):
    topic: str


def write_section(topic: str, i: int) -> dict:
    return {"title": f"{topic}: part {i}", "text": "lorem ipsum " * 40}


@workflow(
    name="bench-review",
    title="Bench review",
    description="20 steps, then an approval",
    input=ReviewInput,
    hidden=True,
)
async def bench_review(run: Run, inp: ReviewInput) -> dict:
    sections = []
    for i in range(1, SECTIONS + 1):
        name = f"section {i}"
        if i == SECTIONS and os.environ.get("BENCH_RENAME_LAST_STEP"):
            name = f"final section {i}"
        sections.append(await run.step(name, write_section, inp.topic, i))
    decision = await run.hook("approve", show={"text": "\n".join(s["title"] for s in sections)})
    return {"sections": len(sections), "approved": decision.approved}
