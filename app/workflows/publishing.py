"""`scheduled-publishing`: the model writes a week of posts → the owner reviews them as an editable
list (edit, delete, reorder, change a time) → the run waits until each post's time and publishes it
through the owner's connector → after the last post it waits for engagement, fetches it, and writes
a weekly analytics report (HTML + PDF).

The schedule lives in a table (app/steps/publishers/schedule.py explains why): each pass plans from
the table in a `run.transaction`, journaling the version it read; a due post is claimed in the same
transaction, so what is published is exactly what the journal says. Between posts the run waits on
a webhook hook whose timeout is the post's time — a durable wake-up like a sleep, which an edit
can end early; the wait starts only if the schedule still has the version the run planned with.
A failed publish is retried with backoff by the step (same idempotency key each time), then the
post shows as failed and the owner decides: retry, skip the post, or cancel the remaining posts.

Versions: version 2 records a failed post in the schedule ("record failure of post N") before
asking the owner, and clears it on "retry post N". Version 1 did neither; runs that started on it
keep running its code (the same function with `record_failures=False`), so a run already past a
failure when the new code was deployed never meets a journal position it did not write.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.engine.errors import StepFailed
from app.engine.registry import workflow
from app.engine.run import Run
from app.engine.values import RetryPolicy
from app.steps import model
from app.steps import posts as P
from app.steps.publishers import fetch_metrics, publish_post
from app.steps.publishers import schedule as S
from app.steps.publishers.connectors import find_connector
from app.steps.publishers.report import save_report
from app.steps.review import review_request
from app.workflows.inputs import Duration, duration_seconds

NAME = "scheduled-publishing"
WORKFLOW_TITLE = "Scheduled publishing"
DECISION_WAIT_S = 7 * 86400
MAX_SPAN_DAYS = (
    60  # the run's maximum duration (90 days) leaves room for the review and the metrics
)


class PublishingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brief: str = Field(
        min_length=3,
        max_length=4000,
        title="What should the posts be about?",
        description="The campaign: topic, audience, tone, links to mention.",
        json_schema_extra={"widget": "textarea"},
    )
    connector: str = Field(
        min_length=1,
        max_length=80,
        title="Connector",
        description="The name of one of your connectors (add them at /settings/connectors).",
    )
    posts: int = Field(7, ge=1, le=30, title="Number of posts")
    start_date: date = Field(title="First post on", description="YYYY-MM-DD")
    post_time: str = Field(
        "09:00", max_length=8, title="Posting time", description="HH:MM, in your time zone."
    )
    timezone: str = Field(
        "UTC",
        max_length=64,
        title="Your time zone",
        description="e.g. Europe/Paris, America/New_York.",
    )
    spacing: Duration = Field(
        "1d",
        title="Time between posts",
        description="1d posts daily; e.g. 12h, 2d.",
        json_schema_extra={"advanced": True},
    )
    metrics_after: Duration = Field(
        "1d",
        title="Collect engagement after",
        description="How long after the last post to fetch likes and shares.",
        json_schema_extra={"advanced": True},
    )
    retry_delay: Duration = Field(
        "30s",
        title="First retry after",
        description="A failed publish is tried 3 times, waiting longer each time, then you decide.",
        json_schema_extra={"advanced": True},
    )
    review_timeout: Duration = Field(
        "7d", title="Time to review", json_schema_extra={"advanced": True}
    )

    @model_validator(mode="after")
    def _span(self):
        if (self.posts - 1) * duration_seconds(self.spacing) > MAX_SPAN_DAYS * 86400:
            raise ValueError(
                f"The posts would span more than {MAX_SPAN_DAYS} days: fewer posts or less time between them."
            )
        return self

    @field_validator("brief")
    @classmethod
    def _brief(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 3:
            raise ValueError("Say what the posts should be about.")
        return value

    @field_validator("post_time")
    @classmethod
    def _time(cls, value: str) -> str:
        P.parse_clock(value)
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        value = value.strip()
        try:
            if not value or value.startswith(("/", ".")) or ".." in value:
                raise ValueError
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("Unknown time zone: use a name like Europe/Paris or UTC.") from None
        return value


def review_summary(count: int, connector: str, first: str, last: str, timezone: str) -> str:
    return (
        f"**{count} post{'s' if count != 1 else ''}** for **{connector}**, from {first} to {last} ({timezone}).\n\n"
        "Edit, delete, reorder or reschedule them in the list on the run's card, then approve the schedule."
    )


async def _check_connector(conn, owner_id: int, name: str, run_id: str) -> dict | None:
    return await find_connector(conn, owner_id, name, run_id=run_id)


async def publish_one(
    run: Run,
    inp: PublishingInput,
    post: dict,
    connector_id: int | None,
    *,
    record_failures: bool = True,
) -> str:
    """Publish a claimed post; on failure ask the owner. Returns published, skipped or cancel.
    `record_failures` (version 2 on) journals the failure's state changes of the schedule."""
    delay = duration_seconds(inp.retry_delay)
    policy = RetryPolicy(max_attempts=3, initial_s=delay, factor=3.0, max_delay_s=max(delay, 3600))
    tries = 0
    while True:
        tries += 1
        name = f"publish post {post['number']}" + (f" (try {tries})" if tries > 1 else "")

        async def send() -> dict:
            return await publish_post(
                run.owner_id, connector_id, post, run.idempotency_key, str(run.id)
            )

        try:
            result = await run.step(name, send, retry=policy, timeout=60)
        except StepFailed as exc:
            message = str(exc.error.get("message") or "the connector failed")
            if record_failures:
                await run.transaction(
                    f"record failure of post {post['number']}",
                    lambda conn, why=message: S.mark_failed(conn, run.id, post["id"], why),
                )
            decision = await run.hook(
                f"post {post['number']} failed",
                "approval",
                actions=["retry", "skip", "cancel"],
                timeout=DECISION_WAIT_S,
                show=review_request(
                    heading=f"Post {post['number']} could not be published",
                    title=f"Post {post['number']}",
                    content=f"> {post['body']}\n\n**Error:** {message}",
                    label="The post",
                    note="Retry it now, skip it (the schedule goes on), or cancel the remaining posts.",
                    labels={
                        "retry": "Retry now",
                        "skip": "Skip this post",
                        "cancel": "Cancel remaining posts",
                    },
                    feedback_for=(),
                ),
            )
            if decision.action == "retry":
                if record_failures:
                    await run.transaction(
                        f"retry post {post['number']}",
                        lambda conn: S.mark_failed(conn, run.id, post["id"], None),
                    )
                continue
            if decision.action == "cancel":
                await run.transaction(
                    f"cancel remaining posts (after post {post['number']})",
                    lambda conn: S.cancel_remaining(conn, run.id),
                )
                return "cancel"
            await run.transaction(
                f"skip post {post['number']}",
                lambda conn, why=message: S.mark_skipped(conn, run.id, post["id"], why),
            )
            return "skipped"
        await run.transaction(
            f"record post {post['number']}",
            lambda conn, sent=result: S.mark_published(conn, run.id, post["id"], sent),
        )
        return "published"


DESCRIPTION = "Writes a series of posts, lets you edit the schedule, publishes each on time, then reports engagement."


@workflow(
    name=NAME,
    title=WORKFLOW_TITLE,
    input=PublishingInput,
    max_duration=timedelta(days=90),
    titled=lambda inp: inp.brief,
    description=DESCRIPTION,
    version=1,
    rerun_from_steps=False,
)
async def scheduled_publishing_v1(run: Run, inp: PublishingInput) -> dict:
    return await _scheduled_publishing(run, inp, record_failures=False)


@workflow(
    name=NAME,
    title=WORKFLOW_TITLE,
    input=PublishingInput,
    max_duration=timedelta(days=90),
    titled=lambda inp: inp.brief,
    description=DESCRIPTION,
    version=2,
    rerun_from_steps=False,
)
async def scheduled_publishing(run: Run, inp: PublishingInput) -> dict:
    return await _scheduled_publishing(run, inp, record_failures=True)


async def _scheduled_publishing(run: Run, inp: PublishingInput, *, record_failures: bool) -> dict:
    connector = await run.transaction(
        "check connector",
        lambda conn: _check_connector(conn, run.owner_id, inp.connector, str(run.id)),
    )
    if connector is None:
        raise ValueError(
            f"You have no connector named “{inp.connector}”: add it on Settings → Connectors, then start again."
        )
    await run.progress(0, inp.posts + 2, "Writing the posts")
    texts = await run.step(
        "write posts",
        P.write_posts,
        inp.brief,
        inp.posts,
        retry=model.MODEL_RETRY,
        timeout=model.MODEL_TIMEOUT_S,
    )
    times = P.slot_times(
        inp.start_date,
        P.parse_clock(inp.post_time),
        inp.timezone,
        duration_seconds(inp.spacing),
        len(texts),
    )
    await run.transaction(
        "save schedule",
        lambda conn: S.create_schedule(
            conn,
            run_id=run.id,
            owner_id=run.owner_id,
            connector=connector,
            timezone=inp.timezone,
            posts=[{"body": t, "publish_at": w} for t, w in zip(texts, times, strict=True)],
        ),
    )
    await run.progress(1, len(texts) + 2, "Waiting for your review")
    decision = await run.hook(
        "review posts",
        "approval",
        actions=["approve", "reject"],
        timeout=duration_seconds(inp.review_timeout),
        show=review_request(
            heading="Review the posts",
            title=f"Posts for {connector['name']}",
            content=review_summary(
                len(texts),
                connector["name"],
                P.local_label(times[0], inp.timezone, with_date=True),
                P.local_label(times[-1], inp.timezone, with_date=True),
                inp.timezone,
            ),
            labels={"approve": "Approve schedule", "reject": "Reject"},
            feedback_for=(),
        ),
    )
    if not decision.approved:
        await run.transaction("close schedule", lambda conn: S.set_state(conn, run.id, "rejected"))
        return {"approved": False, "expired": decision.timed_out, "published": 0}

    await run.transaction("start schedule", lambda conn: S.set_state(conn, run.id, "active"))
    counts = {"published": 0, "skipped": 0}
    plans = 0
    while True:
        plans += 1
        plan = await run.transaction(
            f"read schedule ({plans})", lambda conn: S.plan_next(conn, run.id)
        )
        post = plan["post"]
        if post is None:
            break
        if plan.get("claimed") is None:
            # Not due yet: wait until its time. An edit ends the wait early; one made since this
            # plan was read means there is no wait at all (the hook is created only if the
            # schedule still has the version planned with), so no edit waits for the old time.
            label = P.local_label(post["publish_at"], inp.timezone)
            await run.progress(
                counts["published"] + 1, post["total"] + 2, f"Sleeping until {label}"
            )
            await run.hook(
                f"post {post['number']} of {post['total']} at {label}",
                "webhook",
                timeout=max(plan["wait_s"], 0.05),
                secret=secrets.token_hex(16),
                wait_if=lambda conn, version=plan["version"]: S.unchanged_since(
                    conn, run.id, version
                ),
            )
            continue
        await run.progress(
            counts["published"] + 1, post["total"] + 2, f"Publishing post {post['number']}"
        )
        outcome = await publish_one(
            run,
            inp,
            plan["claimed"] | {"number": post["number"]},
            connector["id"],
            record_failures=record_failures,
        )
        if outcome == "cancel":
            break
        counts[outcome] += 1

    await run.transaction("finish schedule", lambda conn: S.set_state(conn, run.id, "finished"))
    published = await run.transaction(
        "list published posts", lambda conn: S.published_posts(conn, run.id)
    )
    metrics: dict = {}
    if published:
        await run.progress(1, 3, "Waiting for engagement")
        await run.sleep("wait for engagement", duration_seconds(inp.metrics_after))

        async def fetch() -> dict:
            return await fetch_metrics(run.owner_id, connector["id"], published, str(run.id))

        try:
            metrics = await run.step(
                "fetch engagement",
                fetch,
                retry=RetryPolicy(max_attempts=3, initial_s=5),
                timeout=120,
            )
            await run.transaction(
                "save engagement", lambda conn: S.save_metrics(conn, run.id, metrics)
            )
        except StepFailed:
            metrics = {}
    await run.progress(2, 3, "Writing the report")
    when = run.now()
    report = await run.transaction(
        "write report",
        lambda conn: save_report(
            conn,
            run_id=run.id,
            owner_id=run.owner_id,
            title=f"Weekly report: {connector['name']}",
            timezone=inp.timezone,
            when=when,
            metrics_fetched=bool(metrics),
        ),
    )
    return {
        "approved": True,
        "published": counts["published"],
        "skipped": counts["skipped"],
        "document": report["summary"],
        "artifacts": report["artifacts"],
        "totals": report["totals"],
    }
