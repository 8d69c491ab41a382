"""Runs on the chat's page: the composer's workflow picker and its generated forms
(/chat/workflows), and a run card's refresh and cancel (/chat/runs).

A run started here carries `chat_id`; the conversation shows its card after the message that was
last when it started, updated live (partials/runs/live.html). Starting goes through the one start
path (app/web/runs/start.py). The chat is its user's; the run belongs to the request's space (a
team's when the user's current space is a team), and its card says so.
"""

from __future__ import annotations

from uuid import UUID

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core.policy import Action
from app.engine.commands import cancel_run
from app.engine.errors import InvalidState
from app.engine.registry import WorkflowDef, catalog
from app.templates import store as template_store
from app.web.auth import requires_login
from app.web.htmx import is_htmx, navigate
from app.web.runs import start
from app.web.runs.access import find_chat_run, space_id
from app.web.runs.cards import load_card
from app.web.runs.forms import form_fields, form_input

BODY_LIMIT = 64 * 1024


def startable(name: str) -> WorkflowDef:
    """A workflow users may start (not an operator one); NotFoundException otherwise."""
    wf = start.user_workflow(name)
    if wf is None:
        raise NotFoundException()
    return wf


def started_card(card: dict) -> Template:
    """The new run's card, appended to the conversation the form was opened from."""
    return Template(
        "partials/chat/run_started.html",
        context={"card": card, "note": None},
        headers={"HX-Retarget": "#messages", "HX-Reswap": "beforeend"},
    )


# -- the picker --------------------------------------------------------------------------------


def _panel(request: Request, template: str, context: dict, status: int = 200) -> Template:
    if is_htmx(request):
        return Template(template, context=context, status_code=status)
    return Template(
        "pages/chat/workflows.html", context={**context, "inner": template}, status_code=status
    )


PICKER_TEMPLATES = 30


async def picker_templates(conn, user_id: int, space_id: int | None = None) -> list[dict]:
    """The saved templates the picker offers in `space_id` (None: the user's personal space): the
    space's, then the gallery's (app/templates)."""
    found = await template_store.list_templates(conn, user_id=user_id, space_id=space_id)
    return (found["mine"] + found["gallery"])[:PICKER_TEMPLATES]


@get("/")
async def picker(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    conversation_id: FromQuery[int | None] = None,
) -> Template:
    async with pool.connection() as conn:
        templates = await picker_templates(conn, request.user.id, space_id(request))
    return _panel(
        request,
        "partials/chat/workflow_picker.html",
        {"workflows": catalog(), "templates": templates, "conversation_id": conversation_id},
    )


@get("/{name:str}")
async def workflow_form(
    request: Request, name: FromPath[str], conversation_id: FromQuery[int | None] = None
) -> Template:
    wf = startable(name)
    return _panel(
        request,
        "partials/chat/workflow_form.html",
        {
            "wf": wf,
            "fields": form_fields(wf.input_model),
            "errors": {},
            "conversation_id": conversation_id,
        },
    )


@post("/{name:str}", request_max_body_size=BODY_LIMIT)
async def start_from_form(
    request: Request, pool: NamedDependency[AsyncConnectionPool], name: FromPath[str]
) -> Response:
    wf = startable(name)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    conversation_id = (
        int(form["conversation_id"]) if form.get("conversation_id", "").isdigit() else None
    )
    async with pool.connection() as conn:
        outcome = await start.start_run(
            conn,
            workflow=wf.name,
            input=form_input(wf.input_model, form),
            user_id=request.user.id,
            chat=start.InChat(conversation_id),
            space_id=space_id(request),
        )
        if isinstance(outcome, start.Refused):
            if outcome.reason == "no_chat":
                raise NotFoundException()
            return _panel(
                request,
                "partials/chat/workflow_form.html",
                {
                    "wf": wf,
                    "fields": form_fields(wf.input_model, form),
                    "errors": outcome.fields or {"form": outcome.message},
                    "conversation_id": conversation_id,
                },
                # A viewer of the space: 403, shown in place for HTMX (which swaps only 2xx/422/429).
                status=403 if outcome.reason == "forbidden" and not is_htmx(request) else 422,
            )
        if conversation_id is None or not is_htmx(request):
            return navigate(request, f"/chat/{outcome.conversation_id}")
        return started_card(
            await load_card(
                conn, outcome.run_id, None, space_id=space_id(request), viewer_id=request.user.id
            )
        )


# -- run cards ---------------------------------------------------------------------------------


@get("/{run_id:uuid}/card")
async def run_card(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Template:
    async with pool.connection() as conn:
        run = await find_chat_run(conn, request, run_id)
        card = await load_card(conn, run_id, None, space_id=run.space_id, viewer_id=request.user.id)
    return Template("partials/runs/card.html", context={"card": card})


@post("/{run_id:uuid}/cancel")
async def cancel(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Response:
    notice = None
    async with pool.connection() as conn:
        # 404 for a run not shown to this user, 403 for a viewer of the run's space
        found = await find_chat_run(conn, request, run_id, Action.OPERATE)
        try:
            run = await cancel_run(conn, run_id, space_id=found.space_id, actor_id=request.user.id)
        except InvalidState as exc:
            notice = f"Nothing to cancel: {exc}."
            run = None
        card = await load_card(
            conn, run_id, None, space_id=found.space_id, viewer_id=request.user.id
        )
    if not is_htmx(request):
        chat_id = (run or card["run"]).chat_id
        return Redirect(f"/chat/{chat_id}" if chat_id else "/approvals", status_code=303)
    return Template("partials/runs/card.html", context={"card": card, "notice": notice})


picker_router = Router(
    path="/chat/workflows",
    guards=[requires_login],
    route_handlers=[picker, workflow_form, start_from_form],
)
cards_router = Router(path="/chat/runs", guards=[requires_login], route_handlers=[run_card, cancel])
