"""The one way a run starts from the web: the chat's slash commands, the workflow picker's form,
the model's proposals, the upload forms and the JSON API all call `start_run` (and so will
templates and schedules).

    outcome = await start_run(conn, workflow="content-generation", input={"prompt": "..."},
                              user_id=user.id, chat=InChat(conversation_id, note="/report ..."))
    if isinstance(outcome, Refused): ...   # outcome.reason, outcome.message, outcome.fields
    else: outcome.run_id, outcome.conversation_id

A template run passes the chosen template version instead of a workflow name (the input is then checked
against that version's inputs; `choose_template` finds one the user may run, else `no_workflow`):

    outcome = await start_run(conn, template=await choose_template(conn, user.id, "reviewed-report"),
                              input={"topic": "..."}, user_id=user.id)

It checks, in this order: the workflow exists and users may start it, the conversation (if any) is
the user's, the input is valid and the quota allows one more run — the last two by the engine's
own start command (app/engine/commands.py `start_run`), so every entry refuses exactly the same
inputs with the same words. An idempotency key names the run: a second start with it returns the
first run (`created` False) and starts nothing.

A rerun (`rerun_run`) is a start too: the engine plans it (`plan_rerun`: which of the original's
steps are reused) and `start_run` carries the plan down to the engine's start command.

Everything happens in one transaction: a refusal leaves nothing behind (no conversation, no note).
A caller that wrote rows of its own first (uploads) raises `Refusal` to roll those back too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from psycopg import AsyncConnection

from app.core import policy
from app.engine import commands
from app.engine.errors import (
    EngineError,
    InputInvalid,
    InvalidState,
    QuotaExceeded,
    WorkflowNotFound,
)
from app.engine.registry import WorkflowDef, get_workflow
from app.engine.rows import StartedRun
from app.templates.start import TemplateChoice, choose, start_template_run
from app.templates.store import TemplateNotFound
from app.web.runs.forms import field_errors

NEW_CONVERSATION = (
    "INSERT INTO conversations (user_id, title) VALUES (%(user_id)s, %(title)s) RETURNING id"
)
# A run started from the conversation's page is activity in it: the conversation moves to the top.
TOUCH_CONVERSATION = """
UPDATE conversations SET updated_at = now() WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id
"""
OWN_CONVERSATION = "SELECT id FROM conversations WHERE id = %(id)s AND user_id = %(user_id)s"
INSERT_NOTE = """
INSERT INTO messages (conversation_id, role, content, status) VALUES (%(id)s, 'user', %(content)s, 'done')
RETURNING id
"""


@dataclass(frozen=True)
class InChat:
    """Start the run from a conversation's page: `conversation_id` None starts a new conversation
    (titled after the run); `note` is the user's own words, recorded as their message before the
    run's card (a slash command)."""

    conversation_id: int | None
    note: str | None = None


@dataclass(frozen=True)
class Started:
    run: StartedRun
    created: bool  # False: the idempotency key named an earlier run, returned as it is
    conversation_id: int | None
    note_id: int | None = None  # the message recorded from InChat.note

    @property
    def run_id(self) -> UUID:
        return self.run.id


@dataclass(frozen=True)
class Refused:
    """Why nothing started. `message` is for a person; `fields` maps each wrong input field to
    its message (invalid_input); `error` is the engine's error (the API answers with its code)."""

    reason: Literal[
        "no_workflow", "no_chat", "invalid_input", "quota", "invalid_state", "forbidden"
    ]
    message: str
    error: EngineError | None = None
    fields: dict[str, str] = field(default_factory=dict)


class Refusal(Exception):
    """Raised by a caller inside its own transaction to roll back its writes with the refusal."""

    def __init__(self, refused: Refused):
        super().__init__(refused.message)
        self.refused = refused


class _NoChat(Exception):
    pass


def user_workflow(name: str) -> WorkflowDef | None:
    """The workflow if users may start it (not an operator one, which is hidden)."""
    try:
        wf = get_workflow(name)
    except WorkflowNotFound:
        return None
    return None if wf.hidden else wf


def _rerunnable(name: str, version: int | None) -> WorkflowDef | None:
    """A run's own workflow may be rerun even when it is not in the catalog (hidden), unless it
    is an operator check."""
    try:
        wf = get_workflow(name, version)
    except WorkflowNotFound:
        return None
    return None if wf.operator else wf


async def _conversation(
    conn: AsyncConnection, user_id: int, chat: InChat | int | None, title: str
) -> int | None:
    if chat is None:
        return None
    if isinstance(chat, int):  # linked only (the API, a proposal): it must be the user's
        row = await (
            await conn.execute(OWN_CONVERSATION, {"id": chat, "user_id": user_id})
        ).fetchone()
    elif chat.conversation_id is None:
        row = await (
            await conn.execute(NEW_CONVERSATION, {"user_id": user_id, "title": title})
        ).fetchone()
    else:
        row = await (
            await conn.execute(TOUCH_CONVERSATION, {"id": chat.conversation_id, "user_id": user_id})
        ).fetchone()
    if row is None:
        raise _NoChat
    return row["id"]


async def choose_template(
    conn: AsyncConnection,
    user_id: int,
    slug: str | None = None,
    template_id: int | None = None,
    space_id: int | None = None,
) -> TemplateChoice | None:
    """The current version of a template the user may run in `space_id` (None: their personal
    space), its run starting there; or None (start_run then refuses it)."""
    try:
        return await choose(
            conn, user_id=user_id, slug=slug, template_id=template_id, space_id=space_id
        )
    except TemplateNotFound:
        return None


async def start_run(
    conn: AsyncConnection,
    *,
    workflow: str | None = None,
    input: dict[str, Any],
    user_id: int,
    chat: InChat | int | None = None,
    idempotency_key: str | None = None,
    title: str | None = None,
    template: TemplateChoice | None = None,
    rerun: commands.RerunFrom | None = None,
    space_id: int | None = None,
) -> Started | Refused:
    """Start `workflow` (or the `template` version) for `user_id` with `input` (checked here, against
    the workflow's model or the template's inputs). `chat` links the run to a conversation: an
    `InChat` from the chat's page, or the id of one of the user's conversations. `title` defaults to
    the workflow's titling of the input. `rerun` (from `commands.plan_rerun`) makes the run a rerun
    of another (use `rerun_run`).

    The run belongs to `space_id` — web callers pass the request's space (`request.user.space.id`);
    None is the user's personal space. A chat stays its user's, whichever space its runs belong to.
    A member whose role may not start runs there gets `policy.Forbidden` (a 403); a space the user
    is not a member of, RunNotFound (a 404)."""
    if template is not None:
        wf = None
    elif rerun is not None:
        wf = _rerunnable(workflow, rerun.version)
    else:
        wf = user_workflow(workflow) if workflow else None
    if wf is None and template is None:
        return Refused(
            "no_workflow",
            f"There is no workflow named “{workflow}”.",
            WorkflowNotFound(f"no workflow named {workflow!r}"),
        )
    # The new conversation is named as its run will be (the workflow's own titling of the input).
    chat_title = title or (template.run_title(input) if template else wf.run_title_for(input))
    try:
        async with conn.transaction():
            conversation_id = await _conversation(conn, user_id, chat, chat_title)
            note_id = None
            if isinstance(chat, InChat) and chat.note:
                note_id = (
                    await (
                        await conn.execute(
                            INSERT_NOTE, {"id": conversation_id, "content": chat.note}
                        )
                    ).fetchone()
                )["id"]
            if template is not None:
                run, created = await start_template_run(
                    conn,
                    user_id=user_id,
                    template=template,
                    input=input,
                    chat_id=conversation_id,
                    idempotency_key=idempotency_key,
                    title=title,
                )
            else:
                run, created = await commands.start_run(
                    conn,
                    owner_id=user_id,
                    space_id=space_id,
                    workflow=wf.name,
                    input=input,
                    chat_id=conversation_id,
                    idempotency_key=idempotency_key,
                    title=title,
                    rerun=rerun,
                )
    except _NoChat:
        return Refused("no_chat", "No conversation of yours has this id.")
    except InputInvalid as exc:
        what = "template's" if template is not None else "workflow's"
        return Refused("invalid_input", f"Check the {what} input.", exc, field_errors(exc.errors))
    except QuotaExceeded as exc:
        return Refused("quota", f"Cannot start the workflow: {exc}.", exc)
    except policy.Forbidden as exc:  # a viewer of the space (the API answers it as a 403)
        return Refused("forbidden", f"Cannot start the workflow: {exc}", exc)
    return Started(run, created, conversation_id, note_id)


async def rerun_run(
    conn: AsyncConnection,
    run_id: UUID | str,
    *,
    user_id: int,
    space_id: int | None = None,
    from_step: str | int | None = None,
    input: dict[str, Any] | None = None,
    step_output: Any = commands.NOT_EDITED,
) -> Started | Refused:
    """A new run, started by `user_id`, of the run `run_id` of `space_id` (None: of `user_id`'s own
    runs) that reuses its results before `from_step` (a name, a position, "failed" or None for the
    start), with an edited `input` and/or `step_output` (that step taken as done with it). It
    belongs to the same space. A run not found there raises RunNotFound (a 404)."""
    try:
        source, plan = await commands.plan_rerun(
            conn,
            run_id,
            owner_id=None if space_id is not None else user_id,
            space_id=space_id,
            from_step=from_step,
            input=input,
            step_output=step_output,
        )
    except InputInvalid as exc:
        return Refused("invalid_input", "Check the rerun's fields.", exc, field_errors(exc.errors))
    except InvalidState as exc:
        return Refused("invalid_state", f"Cannot rerun from there: {exc}.", exc)
    return await start_run(
        conn,
        workflow=source.workflow,
        input=source.input,
        user_id=user_id,
        title=source.title,
        rerun=plan,
        space_id=source.space_id,
    )
