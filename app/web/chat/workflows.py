"""Workflows in the chat: the composer's picker and its generated forms, slash commands, run
cards (read and cancel), and starting a run inside a conversation.

A run started here carries `chat_id`; the conversation shows its card after the message that was
last when it started (`chat_runs`), updated live (partials/runs/live.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.engine.commands import cancel_run, start_run
from app.engine.errors import (
    InputInvalid,
    InvalidState,
    QuotaExceeded,
    RunNotFound,
    WorkflowNotFound,
)
from app.engine.registry import WorkflowDef, catalog, get_workflow
from app.web.auth import requires_login
from app.web.chat import store
from app.web.chat.run_cards import load_card
from app.web.chat.store import COLUMNS, NotFound, message_from, title_from
from app.web.chat.workflow_forms import field_errors, form_fields, form_input
from app.web.htmx import is_htmx

BODY_LIMIT = 64 * 1024
CHAT_RUNS_LIMIT = 50

# Slash commands: the command, the workflow it starts, the input field its text fills.
COMMANDS = {"/report": ("content-generation", "prompt"), "/team": ("multi-agent", "topic")}



def user_workflow(name: str) -> WorkflowDef:
    """A workflow users may start (not an operator one); NotFoundException otherwise."""
    try:
        wf = get_workflow(name)
    except WorkflowNotFound:
        raise NotFoundException() from None
    if wf.hidden:
        raise NotFoundException()
    return wf


def run_title(wf: WorkflowDef, data: dict[str, Any]) -> str:
    for key in ("title", "prompt", "topic"):
        if isinstance(data.get(key), str) and data[key].strip():
            return title_from(data[key])
    return wf.title


# -- starting a run in a conversation ------------------------------------------------------------

TOUCH = "UPDATE conversations SET updated_at = now() WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id"
NEW_CONVERSATION = "INSERT INTO conversations (user_id, title) VALUES (%(user_id)s, %(title)s) RETURNING id"
INSERT_NOTE = f"""
INSERT INTO messages (conversation_id, role, content, status) VALUES (%(id)s, 'user', %(content)s, 'done')
RETURNING {COLUMNS}
"""


@dataclass(frozen=True)
class Started:
    conversation_id: int
    run: dict
    note: store.Message | None


async def start_in_chat(conn: AsyncConnection, *, user_id: int, wf: WorkflowDef, data: dict[str, Any],
                        conversation_id: int | None, note: str | None = None) -> Started:
    """One transaction: the conversation (created if needed), the user's message if any, the run.
    A refusal (quota, invalid input) leaves nothing behind. Raises NotFound for another's chat."""
    title = run_title(wf, data)
    async with conn.transaction():
        if conversation_id is None:
            conversation_id = (await (await conn.execute(NEW_CONVERSATION, {"user_id": user_id, "title": title})).fetchone())["id"]
        elif (await (await conn.execute(TOUCH, {"id": conversation_id, "user_id": user_id})).fetchone()) is None:
            raise NotFound
        message = None
        if note:
            message = message_from(await (await conn.execute(INSERT_NOTE, {"id": conversation_id, "content": note})).fetchone())
        run, _ = await start_run(conn, owner_id=user_id, workflow=wf.name, input=data, chat_id=conversation_id,
                                 title=title)
    return Started(conversation_id, run, message)


CHAT_RUNS = """
SELECT r.id, (SELECT max(m.id) FROM messages m
              WHERE m.conversation_id = r.chat_id AND m.created_at <= r.created_at) AS after_message_id
FROM runs r WHERE r.chat_id = %(chat_id)s AND r.owner_id = %(owner_id)s
ORDER BY r.created_at DESC LIMIT %(limit)s
"""


async def chat_runs(conn: AsyncConnection, conversation_id: int, owner_id: int,
                    shown_message_ids: list[int]) -> dict[int | None, list[dict]]:
    """The conversation's run cards by the message they follow (None: before the first shown)."""
    rows = await (await conn.execute(CHAT_RUNS, {"chat_id": conversation_id, "owner_id": owner_id,
                                                 "limit": CHAT_RUNS_LIMIT})).fetchall()
    shown = set(shown_message_ids)
    placed: dict[int | None, list[dict]] = {}
    for row in reversed(rows):
        anchor = row["after_message_id"] if row["after_message_id"] in shown else None
        try:
            placed.setdefault(anchor, []).append(await load_card(conn, row["id"], owner_id))
        except RunNotFound:  # deleted meanwhile
            continue
    return placed


# -- the picker --------------------------------------------------------------------------------

def _panel(request: Request, template: str, context: dict, status: int = 200) -> Template:
    if is_htmx(request):
        return Template(template, context=context, status_code=status)
    return Template("pages/chat/workflows.html", context={**context, "inner": template}, status_code=status)


@get("/")
async def picker(request: Request, conversation_id: FromQuery[int | None] = None) -> Template:
    return _panel(request, "partials/chat/workflow_picker.html",
                  {"workflows": catalog(), "conversation_id": conversation_id})


@get("/{name:str}")
async def workflow_form(request: Request, name: FromPath[str], conversation_id: FromQuery[int | None] = None) -> Template:
    wf = user_workflow(name)
    return _panel(request, "partials/chat/workflow_form.html", {
        "wf": wf, "fields": form_fields(wf.input_model), "errors": {}, "conversation_id": conversation_id})


@post("/{name:str}", request_max_body_size=BODY_LIMIT)
async def start_from_form(request: Request, pool: NamedDependency[AsyncConnectionPool], name: FromPath[str]) -> Response:
    wf = user_workflow(name)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    conversation_id = int(form["conversation_id"]) if form.get("conversation_id", "").isdigit() else None
    data = form_input(wf.input_model, form)

    def again(errors: dict[str, str]) -> Template:
        return _panel(request, "partials/chat/workflow_form.html", {
            "wf": wf, "fields": form_fields(wf.input_model, form), "errors": errors,
            "conversation_id": conversation_id}, status=422)

    try:
        async with pool.connection() as conn:
            started = await start_in_chat(conn, user_id=request.user.id, wf=wf, data=data,
                                          conversation_id=conversation_id)
            if conversation_id is None or not is_htmx(request):
                return _go(request, f"/chat/{started.conversation_id}")
            card = await load_card(conn, started.run["id"], request.user.id)
    except NotFound:
        raise NotFoundException() from None
    except InputInvalid as exc:
        return again(field_errors(exc.errors))
    except QuotaExceeded as exc:
        return again({"form": f"Cannot start: {exc}."})
    return Template("partials/chat/run_started.html", context={"card": card, "note": None},
                    headers={"HX-Retarget": "#messages", "HX-Reswap": "beforeend"})


def _go(request: Request, url: str) -> Response:
    if is_htmx(request):
        return Response(None, status_code=200, headers={"HX-Location": url})
    return Redirect(url, status_code=303)


# -- slash commands ----------------------------------------------------------------------------

class CommandError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def is_command(text: str) -> bool:
    return text.startswith("/") and text.split(maxsplit=1)[0].lower() in (*COMMANDS, "/help")


async def run_command(request: Request, pool: AsyncConnectionPool, conversation_id: int | None,
                      text: str) -> Response:
    """`/help`, `/report <prompt>`, `/team <topic>`. Raises CommandError with a message for the
    composer (unknown input, quota); the caller shows it like any composer error."""
    command, _, rest = text.partition(" ")
    command, rest = command.lower(), rest.strip()
    if command == "/help":
        return Template("partials/chat/help.html", context={"workflows": catalog(), "commands": COMMANDS})
    workflow, field = COMMANDS[command]
    if not rest:
        raise CommandError(f"Write what it is about after {command}, e.g. “{command} the state of solar power”.")
    wf = user_workflow(workflow)
    try:
        async with pool.connection() as conn:
            started = await start_in_chat(conn, user_id=request.user.id, wf=wf, data={field: rest},
                                          conversation_id=conversation_id, note=text)
            if conversation_id is None or not is_htmx(request):
                return _go(request, f"/chat/{started.conversation_id}")
            card = await load_card(conn, started.run["id"], request.user.id)
    except NotFound:
        raise NotFoundException() from None
    except InputInvalid as exc:
        raise CommandError(f"{command}: {next(iter(field_errors(exc.errors).values()))}") from None
    except QuotaExceeded as exc:
        raise CommandError(f"Cannot start the workflow: {exc}.") from None
    return Template("partials/chat/run_started.html",
                    context={"card": card, "note": started.note, "conversation_id": started.conversation_id})


# -- run cards ---------------------------------------------------------------------------------

@get("/{run_id:uuid}/card")
async def run_card(request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]) -> Template:
    async with pool.connection() as conn:
        try:
            card = await load_card(conn, run_id, request.user.id)
        except RunNotFound:
            raise NotFoundException() from None
    return Template("partials/runs/card.html", context={"card": card})


@post("/{run_id:uuid}/cancel")
async def cancel(request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]) -> Response:
    notice = None
    async with pool.connection() as conn:
        try:
            run = await cancel_run(conn, run_id, owner_id=request.user.id)
        except RunNotFound:
            raise NotFoundException() from None
        except InvalidState as exc:
            notice = f"Nothing to cancel: {exc}."
            run = None
        card = await load_card(conn, run_id, request.user.id)
    if not is_htmx(request):
        chat_id = (run or card["run"]).get("chat_id")
        return Redirect(f"/chat/{chat_id}" if chat_id else "/approvals", status_code=303)
    return Template("partials/runs/card.html", context={"card": card, "notice": notice})


picker_router = Router(path="/chat/workflows", guards=[requires_login],
                       route_handlers=[picker, workflow_form, start_from_form])
runs_router = Router(path="/chat/runs", guards=[requires_login], route_handlers=[run_card, cancel])
