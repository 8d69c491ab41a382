"""Workflows for the API tests (registered on import, like tests/integration/engine/workflows.py).

`test-api-echo` is visible in the catalog on purpose: the catalog and quota tests need a workflow
a user would see (hidden ones are operator workflows and exempt from quotas).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.engine.errors import FatalError
from app.engine.registry import workflow
from app.engine.run import Run

VISIBLE = "test-api-echo"
WEBHOOK = "test-api-webhook"
FAILS_ONCE = "test-api-fails-once"


class EchoInput(BaseModel):
    topic: str = Field(min_length=1, max_length=50)
    times: int = Field(default=1, ge=1, le=5)


def echo(topic: str, times: int) -> str:
    return " ".join([topic] * times)


@workflow(
    name=VISIBLE,
    title="API test: echo",
    description="Repeats a topic (API tests).",
    input=EchoInput,
)
async def echo_workflow(run: Run, inp: EchoInput) -> dict:
    return {"echo": await run.step("echo", echo, inp.topic, inp.times)}


class WebhookInput(BaseModel):
    secret: str | None = None
    timeout_s: float | None = None
    actions: list[str] | None = None
    gate: bool = False  # an approval hook first, so a test can hold the run before the webhook


def prepare() -> str:
    return "prepared"


@workflow(
    name=WEBHOOK,
    title="API test: webhook",
    description="Waits for a webhook.",
    input=WebhookInput,
    hidden=True,
)
async def webhook_workflow(run: Run, inp: WebhookInput) -> dict:
    await run.step("prepare", prepare)
    if inp.gate:
        await run.hook("gate", "approval")
    delivery = await run.hook(
        "callback",
        "webhook",
        secret=inp.secret,
        timeout=inp.timeout_s,
        actions=inp.actions,
        show={"what": "a callback"},
    )
    await run.progress(1, 1, "delivered")
    await run.step("after", prepare)
    return {"action": delivery.action, "data": delivery.data, "timed_out": delivery.timed_out}


# Runs whose step already failed once (the in-process worker shares this module).
_failed: set[str] = set()


def fail_first_time(run_id: str) -> str:
    if run_id not in _failed:
        _failed.add(run_id)
        raise FatalError("the first attempt fails")
    return "second time lucky"


class Empty(BaseModel):
    pass


@workflow(
    name=FAILS_ONCE,
    title="API test: fails once",
    description="Fails, then works on retry.",
    input=Empty,
    hidden=True,
)
async def fails_once(run: Run, inp: Empty) -> str:
    return await run.step("flaky", fail_first_time, str(run.id))


FILES = "test-api-files"


async def write_report(owner_id: int, run_id: str, text: str) -> str:
    from app.steps.run_files import write_bytes

    return str(
        await write_bytes(
            owner_id=owner_id,
            run_id=run_id,
            name="report.md",
            content_type="text/markdown",
            data=text.encode(),
            role="output",
        )
    )


@workflow(
    name=FILES,
    title="API test: files",
    description="Writes a report file.",
    input=EchoInput,
    hidden=True,
)
async def files_workflow(run: Run, inp: EchoInput) -> dict:
    return {
        "file": await run.step(
            "write report", write_report, run.owner_id, str(run.id), f"# {inp.topic}\n"
        )
    }
