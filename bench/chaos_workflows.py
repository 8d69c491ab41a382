"""The two workflows of the chaos soak (bench/chaos.py) that selftest lacks: a fan-out under a rate
limit shared by every run, and publishing through a real connector with the step's idempotency key.
Loaded by the soak's `baton worker` processes through BATON_WORKFLOW_MODULES."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from app.engine.registry import workflow
from app.engine.run import Run
from app.engine.values import RateLimit, RetryPolicy
from app.steps.publishers import publish_post

# One limit for all runs, so the workers contend for it (counted in Postgres, across processes).
FAN_OUT_LIMIT = RateLimit("chaos-fan-out", max_calls=20, per_seconds=1.0)


class FanOutInput(BaseModel):
    items: int = Field(8, ge=1, le=100)
    hold_ms: float = Field(100, ge=0, le=10_000)


async def cube(item: dict) -> int:
    await asyncio.sleep(item["hold_ms"] / 1000)  # long enough for a kill to land mid-child
    return item["i"] ** 3


@workflow(
    name="chaos-fan-out",
    title="Chaos fan-out",
    description="a rate-limited fan-out",
    input=FanOutInput,
    hidden=True,
)
async def chaos_fan_out(run: Run, inp: FanOutInput) -> dict:
    items = [{"i": i, "hold_ms": inp.hold_ms} for i in range(inp.items)]
    cubes = await run.map("cubes", cube, items, concurrency=3, limit=FAN_OUT_LIMIT)
    return {"cubes": cubes}


class PublishInput(BaseModel):
    connector_id: int
    posts: int = Field(2, ge=1, le=20)


@workflow(
    name="chaos-publish",
    title="Chaos publish",
    description="publishes posts once each",
    input=PublishInput,
    hidden=True,
)
async def chaos_publish(run: Run, inp: PublishInput) -> dict:
    policy = RetryPolicy(
        max_attempts=20, initial_s=0.2, factor=2.0, max_delay_s=2.0
    )  # outlives a Postgres restart
    sent = []
    for number in range(1, inp.posts + 1):
        post = {
            "id": number,
            "number": number,
            "body": f"Chaos post {number} of run {run.id}",
            "publish_at": None,
        }

        async def send(post=post) -> dict:
            return await publish_post(
                run.owner_id, inp.connector_id, post, run.idempotency_key, str(run.id)
            )

        sent.append(await run.step(f"publish {number}", send, retry=policy, timeout=30))
    return {"published": [{"key": s["idempotency_key"], "remote_id": s["remote_id"]} for s in sent]}
