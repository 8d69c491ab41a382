"""`content-generation` (Reviewed content): draft → review → revise with the feedback → review
again (at most `max_revisions` times) → final document and its PDF.

The review is a hook with Approve / Request revision (with feedback) / Reject. Reject ends the
run `completed` with `approved: false`. When the review expires unanswered the run waits in an
expired state (another hook, "review expired") from which the user can reopen the review (a
fresh review hook, a fresh deadline) or cancel the run.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.engine.registry import workflow
from app.engine.run import Run
from app.steps import model
from app.steps.artifacts import save_document
from app.steps.review import review_request
from app.workflows.inputs import Duration, OptionalEmail, duration_seconds

WORKFLOW_TITLE = "Reviewed content"
EXPIRED_WAIT_S = 30 * 86400  # how long an expired review can still be reopened

WRITER = (
    "You are a professional writer. Write the requested document in Markdown: a clear structure with "
    "headings, concrete content, no preamble and no closing remarks. Do not repeat the title."
)
REVISER = (
    "You are a professional editor revising a document. Apply the reviewer's feedback faithfully, keep "
    "what they did not ask to change, and answer with the whole revised document in Markdown only."
)


class ContentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        min_length=3,
        max_length=4000,
        title="What should it be about?",
        description="The report or document to write, and anything the writer should know.",
        json_schema_extra={"widget": "textarea"},
    )
    title: str | None = Field(
        None,
        max_length=120,
        title="Title",
        description="Leave empty to use the start of the request.",
    )
    max_revisions: int = Field(
        5,
        ge=0,
        le=10,
        title="Revisions at most",
        description="How many times you can send the draft back with feedback.",
    )
    reviewer_email: OptionalEmail = Field(
        None,
        title="Reviewer's email",
        description="Who gets the review link by email (empty: you).",
        json_schema_extra={"advanced": True},
    )
    review_timeout: Duration = Field(
        "24h",
        title="Time to review",
        description="How long the review stays open, e.g. 30m, 24h, 3d.",
        json_schema_extra={"advanced": True},
    )
    remind_before: Duration = Field(
        "4h",
        title="Reminder before the deadline",
        description="When to send a reminder if the review is still open.",
        json_schema_extra={"advanced": True},
    )

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 3:
            raise ValueError("Say what the document should be about.")
        return value

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, value):
        return " ".join(value.split()) or None if isinstance(value, str) else value


def title_from(prompt: str, limit: int = 80) -> str:
    line = " ".join(prompt.split())
    if len(line) <= limit:
        return line.rstrip(" .")
    return line[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def draft_prompt(title: str, prompt: str) -> str:
    return f"Title: {title}\n\nWrite this document:\n{prompt}"


def revise_prompt(title: str, draft: str, feedback: str) -> str:
    return (
        f"Title: {title}\n\nThe current draft:\n<<<\n{draft}\n>>>\n\n"
        f"The reviewer's feedback:\n<<<\n{feedback}\n>>>\n\nWrite the revised document."
    )


def format_document(title: str, body: str, date: str) -> str:
    """The final formatted document: title, content, and the AI-assistance line."""
    return f"# {title}\n\n{body.strip()}\n\n---\n\n*Generated with AI assistance · {date}*\n"


@workflow(
    name="content-generation",
    title=WORKFLOW_TITLE,
    input=ContentInput,
    titled=lambda inp: inp.title or inp.prompt,
    description="Drafts a document, waits for your review (approve, revise, reject), then makes the final PDF.",
)
async def content_generation(run: Run, inp: ContentInput) -> dict:
    title = inp.title or title_from(inp.prompt)
    timeout, remind = duration_seconds(inp.review_timeout), duration_seconds(inp.remind_before)
    await run.progress(0, 4, "Writing the draft")
    draft = await run.step(
        "write draft",
        model.generate,
        WRITER,
        draft_prompt(title, inp.prompt),
        retry=model.MODEL_RETRY,
        timeout=model.MODEL_TIMEOUT_S,
    )
    revisions, reopened, done = 0, 0, 1
    while True:
        can_revise = revisions < inp.max_revisions
        name = "review draft" if revisions == 0 else f"review revision {revisions}"
        if reopened:
            name += f" (reopened{'' if reopened == 1 else f' {reopened}'})"
        note = (
            f"Revision {revisions} of at most {inp.max_revisions}."
            if revisions
            else f"You can ask for up to {inp.max_revisions} revision{'s' if inp.max_revisions != 1 else ''}."
        )
        if not can_revise:
            note = f"This is the last revision ({inp.max_revisions} of {inp.max_revisions}): approve or reject it."
        await run.progress(done, done + 3, "Waiting for your review")
        decision = await run.hook(
            name,
            "approval",
            actions=["approve", "revise", "reject"] if can_revise else ["approve", "reject"],
            show=review_request(
                title=title,
                heading=f"Review: {title}",
                content=draft,
                label="Revised draft" if revisions else "Draft",
                note=note,
            ),
            timeout=timeout,
            remind_before=remind if remind < timeout else None,
            assignee=inp.reviewer_email,
        )
        done += 1
        if decision.timed_out:
            await run.progress(done, done + 3, "The review expired")
            again = await run.hook(
                "review expired",
                "input",
                actions=["reopen"],
                timeout=EXPIRED_WAIT_S,
                show=review_request(
                    title=title,
                    heading=f"The review of “{title}” expired",
                    content=draft,
                    label="Draft",
                    state="expired",
                    note="Reopen the review to decide, or cancel the run.",
                ),
            )
            if again.timed_out:
                return {
                    "approved": False,
                    "expired": True,
                    "title": title,
                    "draft": draft,
                    "revisions": revisions,
                }
            reopened += 1
            continue
        if decision.action == "reject":
            return {
                "approved": False,
                "title": title,
                "draft": draft,
                "revisions": revisions,
                "decided_by": decision.decided_by,
            }
        if decision.action == "revise":
            revisions += 1
            await run.progress(done, done + 3, f"Revising (revision {revisions})")
            draft = await run.step(
                f"revise draft ({revisions})",
                model.generate,
                REVISER,
                revise_prompt(title, draft, str(decision.data.get("feedback") or "")),
                retry=model.MODEL_RETRY,
                timeout=model.MODEL_TIMEOUT_S,
            )
            done += 1
            continue
        break
    await run.progress(done, done + 2, "Formatting the final document")
    when = run.now()
    document = await run.step(
        "format final document", format_document, title, draft, when.strftime("%-d %B %Y")
    )
    files = await run.transaction(
        "save PDF",
        lambda conn: save_document(
            conn,
            owner_id=run.owner_id,
            run_id=run.id,
            title=title,
            markdown=draft,
            when=when,
            workflow_title=WORKFLOW_TITLE,
        ),
    )
    return {
        "approved": True,
        "title": title,
        "document": document,
        "revisions": revisions,
        "decided_by": decision.decided_by,
        "artifacts": files,
    }
