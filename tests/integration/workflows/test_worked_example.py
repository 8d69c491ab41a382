"""The worked example of docs/dev/testing-workflows.md, which shows this file verbatim (a test in
tests/unit/test_docs_references.py fails when they differ). A small workflow asks the model for a
haiku, retries when the model fails, waits for a person's approval and returns the haiku."""

from __future__ import annotations

from pydantic import BaseModel

from app.engine.hooks import resolve_hook
from app.engine.registry import workflow
from app.engine.run import Run
from app.engine.values import RetryPolicy
from app.steps.model import generate
from tests.integration.workflows.conftest import waiting_hook
from tests.support.engine import journal, make_user, start, wait_status
from tests.support.model_server import Failure, Reply


class HaikuInput(BaseModel):
    topic: str


# hidden=True keeps a test workflow out of the picker, the API's catalog and the help page.
@workflow(
    name="example-haiku",
    title="Haiku",
    description="A reviewed haiku.",
    input=HaikuInput,
    hidden=True,
)
async def haiku(run: Run, inp: HaikuInput) -> dict:
    text = await run.step(
        "write",
        generate,
        "You are a poet.",
        f"A haiku about {inp.topic}",
        retry=RetryPolicy(max_attempts=3, initial_s=0.1),
    )
    decision = await run.hook("review", "approval", show={"content": text})
    return {"haiku": text, "approved": decision.action == "approve"}


async def test_the_haiku_is_written_retried_reviewed_and_returned(pool, worker, model):
    # The scripted model server answers the worker's real HTTP requests, in this order.
    model.script(Failure(500), Reply("Old pond, a frog jumps in", tokens_in=12, tokens_out=7))
    owner = await make_user(pool)
    run = await start(pool, owner, "example-haiku", topic="frogs")

    hook = await waiting_hook(pool, run.id, "review")  # the run is suspended: no worker holds it
    assert hook["show"]["content"] == "Old pond, a frog jumps in"
    async with pool.connection() as conn:
        await resolve_hook(conn, hook["token"], "approve", {}, decided_by="reviewer@example.test")

    done = await wait_status(pool, run.id, "completed")
    assert done["output"] == {"haiku": "Old pond, a frog jumps in", "approved": True}
    assert [r.last_user_message for r in model.requests] == ["A haiku about frogs"] * 2
    write = (await journal(pool, run.id))[0]
    assert (write["name"], write["attempts"], write["tokens_in"], write["tokens_out"]) == (
        "write",
        2,
        12,
        7,
    )
