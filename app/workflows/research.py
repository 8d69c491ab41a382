"""`multi-agent` (Research team): a researcher gathers notes and sources → you validate the
sources (and may edit the list) → writer → editor → fact-checker, each a model step with its own
system prompt → your final review: approve publishes the article (stored as Markdown and PDF),
"iterate" sends your feedback back to the writer (at most `max_iterations` times), reject stops.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.engine.registry import workflow
from app.engine.run import Run
from app.engine.values import StepOutput
from app.steps import model
from app.steps.artifacts import save_document
from app.steps.review import review_request
from app.workflows.inputs import Duration, OptionalEmail, duration_seconds

WORKFLOW_TITLE = "Research team"
MAX_SOURCES = 20

RESEARCHER = (
    "You are the research agent of a writing team. Gather what is known about the topic: key facts, "
    "figures, viewpoints and open questions, as concise Markdown notes. End with a section headed "
    "'Sources:' listing the sources to use, one per line, each starting with '- '."
)
WRITER = (
    "You are the writer of a writing team. Write a well-structured article in Markdown from the research "
    "notes, using only the validated sources. No preamble; do not repeat the title."
)
EDITOR = (
    "You are the editor of a writing team. Improve the article's language, flow and structure without "
    "changing its facts. Answer with the whole edited article in Markdown only."
)
FACT_CHECKER = (
    "You are the fact-checker of a writing team. Check every claim of the article against the notes and "
    "sources; correct or remove what they do not support. Answer with the whole corrected article in "
    "Markdown only."
)


class ResearchInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(
        min_length=3,
        max_length=2000,
        title="Topic",
        description="What the team should research and write about.",
        json_schema_extra={"widget": "textarea"},
    )
    audience: str | None = Field(
        None, max_length=200, title="Audience", description="Who the article is for (optional)."
    )
    max_iterations: int = Field(
        3,
        ge=0,
        le=10,
        title="Iterations at most",
        description="How many times you can send the article back to the writer.",
    )
    reviewer_email: OptionalEmail = Field(
        None,
        title="Reviewer's email",
        description="Who gets the review links by email (empty: you).",
        json_schema_extra={"advanced": True},
    )
    review_timeout: Duration = Field(
        "24h",
        title="Time to review",
        description="e.g. 30m, 24h, 3d.",
        json_schema_extra={"advanced": True},
    )
    remind_before: Duration = Field(
        "4h", title="Reminder before the deadline", json_schema_extra={"advanced": True}
    )

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 3:
            raise ValueError("Say what the team should research.")
        return value

    @field_validator("audience", mode="before")
    @classmethod
    def _audience(cls, value):
        return (" ".join(value.split()) or None) if isinstance(value, str) else value


_SOURCES_HEADING = re.compile(r"^\s*(?:#+\s*)?\**sources\**\s*:?\s*\**\s*$", re.I)
_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+?)\s*$")


def split_research(text: str) -> dict:
    """The researcher's answer as notes and a list of sources (the lines under 'Sources:')."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _SOURCES_HEADING.match(line)), None)
    if start is None:
        return {"notes": text.strip(), "sources": []}
    sources = []
    for line in lines[start + 1 :]:
        item = _ITEM.match(line)
        if item:
            sources.append(item.group(1)[:500])
        elif line.strip() and sources:
            break
    return {"notes": "\n".join(lines[:start]).strip(), "sources": sources[:MAX_SOURCES]}


async def research(topic: str, audience: str) -> dict:
    answer = await model.generate(RESEARCHER, f"Topic: {topic}\nAudience: {audience}")
    return StepOutput(split_research(answer.value), usage=answer.usage)


def writer_prompt(
    topic: str, audience: str, notes: str, sources: list[str], feedback: str, previous: str
) -> str:
    parts = [
        f"Topic: {topic}",
        f"Audience: {audience}",
        f"Research notes:\n{notes}",
        "Validated sources:\n" + ("\n".join(f"- {s}" for s in sources) or "(none)"),
    ]
    if feedback:
        parts += [
            f"The previous version:\n<<<\n{previous}\n>>>",
            f"The reviewer's feedback to apply:\n<<<\n{feedback}\n>>>",
        ]
    return "\n\n".join(parts)


@workflow(
    name="multi-agent",
    title=WORKFLOW_TITLE,
    input=ResearchInput,
    titled=lambda inp: inp.topic,
    description="A researcher, writer, editor and fact-checker write an article; you check the sources and the result.",
)
async def research_team(run: Run, inp: ResearchInput) -> dict:
    title = " ".join(inp.topic.split())[:120]
    audience = inp.audience or "general readers"
    timeout, remind = duration_seconds(inp.review_timeout), duration_seconds(inp.remind_before)
    hook_options = {
        "timeout": timeout,
        "remind_before": remind if remind < timeout else None,
        "assignee": inp.reviewer_email,
    }
    await run.progress(0, 7, "Researching")
    found = await run.step(
        "research",
        research,
        inp.topic,
        audience,
        retry=model.MODEL_RETRY,
        timeout=model.MODEL_TIMEOUT_S,
    )
    await run.progress(1, 7, "Waiting for you to validate the sources")
    checked = await run.hook(
        "validate sources",
        "approval",
        actions=["approve", "reject"],
        **hook_options,
        show=review_request(
            title=title,
            heading=f"Validate the sources: {title}",
            content=found["notes"],
            label="Research notes",
            note="Edit the list if needed: one source per line. The writer uses only these.",
            labels={"approve": "Use these sources", "reject": "Stop here"},
            edit={
                "name": "sources",
                "label": "Sources",
                "lines": found["sources"],
                "hint": "One source per line.",
            },
        ),
    )
    if checked.timed_out or checked.action == "reject":
        return {
            "published": False,
            "stopped_at": "validate sources",
            "expired": checked.timed_out,
            "title": title,
        }
    sources = [s for s in checked.data.get("sources", found["sources"]) if s][:MAX_SOURCES]
    feedback, article, iteration = "", "", 0
    while True:
        suffix = f" ({iteration + 1})" if iteration else ""
        await run.progress(2, 7, "Writing")
        draft = await run.step(
            f"writer{suffix}",
            model.generate,
            WRITER,
            writer_prompt(inp.topic, audience, found["notes"], sources, feedback, article),
            retry=model.MODEL_RETRY,
            timeout=model.MODEL_TIMEOUT_S,
        )
        await run.progress(3, 7, "Editing")
        edited = await run.step(
            f"editor{suffix}",
            model.generate,
            EDITOR,
            f"Topic: {inp.topic}\n\nArticle:\n{draft}",
            retry=model.MODEL_RETRY,
            timeout=model.MODEL_TIMEOUT_S,
        )
        await run.progress(4, 7, "Fact-checking")
        article = await run.step(
            f"fact-checker{suffix}",
            model.generate,
            FACT_CHECKER,
            f"Research notes:\n{found['notes']}\n\nSources:\n"
            + "\n".join(sources)
            + f"\n\nArticle:\n{edited}",
            retry=model.MODEL_RETRY,
            timeout=model.MODEL_TIMEOUT_S,
        )
        can_iterate = iteration < inp.max_iterations
        await run.progress(5, 7, "Waiting for your final review")
        review = await run.hook(
            f"final review{suffix}",
            "approval",
            actions=["approve", "iterate", "reject"] if can_iterate else ["approve", "reject"],
            **hook_options,
            show=review_request(
                title=title,
                heading=f"Final review: {title}",
                content=article,
                label="Article",
                note="Approve to publish, or send feedback back to the writer."
                if can_iterate
                else "The last iteration: approve to publish, or reject.",
                labels={"approve": "Approve and publish", "iterate": "Iterate", "reject": "Reject"},
            ),
        )
        if review.timed_out or review.action == "reject":
            return {
                "published": False,
                "stopped_at": "final review",
                "expired": review.timed_out,
                "title": title,
                "article": article,
            }
        if review.action == "iterate":
            feedback = str(review.data.get("feedback") or "")
            iteration += 1
            continue
        break
    await run.progress(6, 7, "Publishing")
    when = run.now()
    files = await run.transaction(
        "publish",
        lambda conn: save_document(
            conn,
            owner_id=run.owner_id,
            run_id=run.id,
            title=title,
            markdown=article,
            when=when,
            workflow_title=WORKFLOW_TITLE,
            subtitle=f"For {audience}",
        ),
    )
    return {
        "published": True,
        "title": title,
        "article": article,
        "sources": sources,
        "iterations": iteration,
        "artifacts": files,
    }
