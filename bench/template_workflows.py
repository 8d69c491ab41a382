"""The Python baseline of bench/templates.py: the same model steps a template's ask_model blocks make,
written as a workflow by hand (same step function, same retry policy, same prompts)."""

from __future__ import annotations

from pydantic import BaseModel

from app.engine.registry import workflow
from app.engine.run import Run
from app.steps import model
from app.templates.model_call import ask_model


class Chain(BaseModel):
    blocks: int
    topic: str


@workflow(
    name="bench-template-python",
    title="Bench template baseline",
    description="model steps in Python",
    input=Chain,
    hidden=True,
)
async def python_chain(run: Run, inp: Chain) -> dict:
    outputs: dict[str, str] = {}
    previous = ""
    for i in range(inp.blocks):
        prompt = f"Step {i} about {inp.topic}: {previous[:50]}"
        previous = await run.step(
            f"b{i}",
            ask_model,
            "",
            prompt,
            None,
            None,
            [],
            retry=model.MODEL_RETRY,
            timeout=model.MODEL_TIMEOUT_S,
        )
        outputs[f"b{i}"] = previous
    return {"outputs": outputs}
