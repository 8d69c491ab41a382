"""The JSON API, v1: the workflow catalog, runs (start, list, read, cancel, retry, rerun, live
events), bulk replays and hook decisions. Each handler parses (the body model, the query), authorizes (runs of the
key's space only: anything else is a 404; cancel, retry and rerun need a role that may operate runs, else a 403
`forbidden`), calls one engine command and answers JSON."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, Parameter
from litestar.response import Stream
from psycopg_pool import AsyncConnectionPool

from app.core import policy
from app.core.policy import Action
from app.engine import commands, replays
from app.engine.errors import HookNotFound, InputInvalid, RunNotFound
from app.engine.hooks import hook_for_decider, refusal, resolve_hook
from app.engine.registry import catalog
from app.templates.answers import checked_data
from app.web.api import schedules
from app.web.api.audit import list_audit
from app.web.api.auth import SECURITY_SCHEME, requires_api_key
from app.web.api.events import parse_last_event_id, run_events
from app.web.api.schemas import (
    DecidedHook,
    DecideHook,
    ReplayOut,
    ReplayRun,
    ReplayStarted,
    RerunRun,
    RunDetail,
    RunList,
    RunOut,
    RunStatus,
    StartReplay,
    StartRun,
    WorkflowList,
    WorkflowOut,
    check_text,
    run_view,
)
from app.web.api.templates import HANDLERS as TEMPLATE_HANDLERS
from app.web.api.triggers import routes as trigger_routes
from app.web.json_body import JsonRequest
from app.web.json_errors import documented, exception_handlers
from app.web.live import LiveHub, provide_hub
from app.web.runs.access import find_run
from app.web.runs.files import file_response, get_for_download
from app.web.runs.replay import selection as replay_selection
from app.web.runs.replay import user_id_by_email
from app.web.runs.start import Refused, rerun_run
from app.web.runs.start import start_run as start_run_from_web
from app.web.runs.store import run_artifacts

BODY_LIMIT = 256 * 1024
RERUN_FIELDS = ("from_step", "step_output")
HOOK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,100}$")


def _query_text(value: str | None, field: str) -> str | None:
    try:
        return check_text(value)
    except ValueError as exc:
        raise InputInvalid([{"field": field, "message": str(exc)}]) from None


def _in_input(field: str) -> str:
    return field if field == "input" else f"input.{field}"


async def _detail(conn, run_id, request: Request) -> RunDetail:
    """The run of the key's space (RunNotFound elsewhere). Hook tokens (which decide a hook) only
    for the run's owner, as before spaces; its colleagues decide in their inbox."""
    found = await find_run(conn, request, run_id, with_tokens=True)
    run = run_view(found, with_tokens=found.owner_id == request.user.id)
    files = [
        {**f, "url": f"/api/v1/runs/{run['id']}/files/{f['id']}"}
        for f in await run_artifacts(conn, run["id"])
    ]
    return RunDetail.model_validate({**run, "files": files})


@get("/workflows", tags=["workflows"], responses=documented())
async def list_workflows() -> WorkflowList:
    """The workflows you can start, with the JSON schema of each one's input."""
    return WorkflowList(
        workflows=[
            WorkflowOut(
                name=w.name,
                title=w.title,
                description=w.description,
                version=w.version,
                input_schema=w.input_schema(),
            )
            for w in catalog()
        ]
    )


REPLAYED = ResponseSpec(
    RunDetail, description="The earlier run of the same `idempotency_key`", generate_examples=False
)


@post(
    "/runs",
    tags=["runs"],
    status_code=201,
    responses={200: REPLAYED, **documented(402, 403, 404, 413, 415, 422)},
)
async def start_run(
    request: Request, pool: NamedDependency[AsyncConnectionPool], data: JSONBody[StartRun]
) -> Response[RunDetail]:
    """Start a run: `201` with the new run, or `200` with the earlier run of the same `idempotency_key`."""
    user = request.user
    async with pool.connection() as conn:
        outcome = await start_run_from_web(
            conn,
            workflow=data.workflow,
            input=data.input,
            user_id=user.id,
            chat=data.chat_id,
            idempotency_key=data.idempotency_key,
            title=data.title and " ".join(data.title.split()) or None,
            space_id=user.space.id,
        )
        if isinstance(outcome, Refused):
            raise _api_error(outcome)
        detail = await _detail(conn, outcome.run_id, request)
    return Response(detail, status_code=201 if outcome.created else 200)


def _api_error(refused: Refused) -> Exception:
    """The refusal as the API's error (its code decides the status: app/web/json_errors.py)."""
    if refused.reason == "no_chat":
        return InputInvalid(
            [{"field": "chat_id", "message": "no conversation of yours has this id"}]
        )
    if isinstance(refused.error, InputInvalid):  # name the fields as the body does: input.<field>
        return InputInvalid([e | {"field": _in_input(e["field"])} for e in refused.error.errors])
    return refused.error


@get("/runs", tags=["runs"], responses=documented(422))
async def list_runs(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    status: FromQuery[RunStatus | None] = None,
    workflow: Annotated[str | None, Parameter(max_length=100)] = None,
    cursor: Annotated[str | None, Parameter(max_length=200)] = None,
    limit: Annotated[int, Parameter(ge=1, le=100)] = 50,
) -> RunList:
    """The runs of the key's space (every member's in a team's), newest first, `limit` at a time;
    pass `next_cursor` back as `cursor` for more."""
    workflow, cursor = _query_text(workflow, "workflow"), _query_text(cursor, "cursor")
    async with pool.connection() as conn:
        rows, next_cursor = await commands.list_runs(
            conn,
            owner_id=None,
            space_id=request.user.space.id,
            status=status,
            workflow=workflow,
            cursor=cursor,
            limit=limit,
        )
    return RunList(runs=[RunOut.model_validate(run_view(r)) for r in rows], next_cursor=next_cursor)


@get("/runs/{run_id:str}", tags=["runs"], responses=documented(404))
async def get_run(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[str]
) -> RunDetail:
    """A run of the key's space with its steps, hooks (hook tokens included when the run is yours)
    and files."""
    async with pool.connection() as conn:
        return await _detail(conn, run_id, request)


@get(
    "/runs/{run_id:uuid}/files/{file_id:uuid}",
    tags=["runs"],
    media_type="application/octet-stream",
    responses=documented(404),
)
async def get_run_file(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    run_id: FromPath[UUID],
    file_id: FromPath[UUID],
) -> Response:
    """One of the run's files (a `url` of `GET /api/v1/runs/{id}`), as an attachment."""
    async with pool.connection() as conn:
        found = await get_for_download(conn, file_id, request.user.id, request.user.space.id)
    if found is None or found["run_id"] != run_id:
        raise RunNotFound("No file of this space has this id in this run.")
    return file_response(found)


@post(
    "/runs/{run_id:str}/cancel", tags=["runs"], status_code=200, responses=documented(403, 404, 409)
)
async def cancel_run(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[str]
) -> RunDetail:
    """Cancel a run: at once when it is queued, sleeping or waiting; at its next step when running."""
    async with pool.connection() as conn:
        await find_run(conn, request, run_id, Action.OPERATE)
        await commands.cancel_run(
            conn, run_id, space_id=request.user.space.id, actor_id=request.user.id
        )
        return await _detail(conn, run_id, request)


@post(
    "/runs/{run_id:str}/retry", tags=["runs"], status_code=200, responses=documented(403, 404, 409)
)
async def retry_run(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[str]
) -> RunDetail:
    """Run a failed run again from its failed step (completed steps keep their results)."""
    async with pool.connection() as conn:
        await find_run(conn, request, run_id, Action.OPERATE)
        await commands.retry_run(
            conn, run_id, space_id=request.user.space.id, actor_id=request.user.id
        )
        return await _detail(conn, run_id, request)


@post(
    "/runs/{run_id:str}/rerun",
    tags=["runs"],
    status_code=201,
    responses=documented(402, 403, 404, 409, 413, 415, 422),
)
async def rerun(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    run_id: FromPath[str],
    data: JSONBody[RerunRun],
) -> RunDetail:
    """Start a new run that reuses this run's results (and decisions) before `from_step` and executes
    from there, optionally with an edited `input` or `step_output`. The original is unchanged; the
    new run names it in `rerun_of`. Counts as a run of your plan."""
    step_output = (
        data.step_output if "step_output" in data.model_fields_set else commands.NOT_EDITED
    )
    async with pool.connection() as conn:
        await find_run(conn, request, run_id, Action.OPERATE)
        outcome = await rerun_run(
            conn,
            run_id,
            user_id=request.user.id,
            space_id=request.user.space.id,
            from_step=data.from_step,
            input=data.input,
            step_output=step_output,
        )
        if isinstance(outcome, Refused):
            if isinstance(outcome.error, InputInvalid):  # the body's own fields, else the input's
                raise InputInvalid(
                    [
                        e if e["field"] in RERUN_FIELDS else e | {"field": _in_input(e["field"])}
                        for e in outcome.error.errors
                    ]
                )
            raise _api_error(outcome)
        return await _detail(conn, outcome.run_id, request)


async def _replay_owner(conn, request: Request, owner: str | None) -> int:
    if owner is None:
        return request.user.id
    if not request.user.is_admin:
        raise InputInvalid(
            [{"field": "owner", "message": "only admins replay on another user's behalf"}]
        )
    found = await user_id_by_email(conn, owner)
    if found is None:
        raise InputInvalid([{"field": "owner", "message": "no user has this address"}])
    return found


@post(
    "/replays",
    tags=["replays"],
    status_code=201,
    responses={
        200: ResponseSpec(
            ReplayStarted, description="A dry run: what would be replayed", generate_examples=False
        ),
        **documented(403, 409, 413, 415, 422),
    },
)
async def start_replay(
    request: Request, pool: NamedDependency[AsyncConnectionPool], data: JSONBody[StartReplay]
) -> Response[ReplayStarted]:
    """Replay the runs of `workflow` with one of `statuses` created between `since` and `until` as
    new runs (at most 1,000), paced so they never hold more than a share of the workers. `201` with
    the replay (follow it with `GET /replays/{id}`), or `200` for a `dry_run`."""
    policy.require(request.user.space, Action.OPERATE)  # a viewer's key may not replay (403)
    replays.check_filter(data.workflow, list(data.statuses), data.from_step, data.since, data.until)
    async with pool.connection() as conn:
        owner_id = await _replay_owner(conn, request, data.owner)
        selected = await replays.select_runs(
            conn,
            workflow=data.workflow,
            statuses=list(data.statuses),
            since=data.since,
            until=data.until,
            **replay_selection(request, owner_id),  # the key's space's runs, any member's
        )
        shown = [ReplayRun.model_validate(r) for r in selected]
        if data.dry_run:
            return Response(ReplayStarted(replay=None, selected=shown), status_code=200)
        replay = await replays.create_replay(
            conn,
            requested_by=request.user.id,
            owner_id=owner_id,
            workflow=data.workflow,
            statuses=list(data.statuses),
            from_step=data.from_step,
            selected=selected,
            since=data.since,
            until=data.until,
        )
        found = await replays.get_replay(conn, replay["id"], user_id=request.user.id)
    return Response(
        ReplayStarted(replay=ReplayOut.model_validate(replays.replay_view(found)), selected=shown),
        status_code=201,
    )


@get("/replays/{replay_id:int}", tags=["replays"], responses=documented(404))
async def get_replay(
    request: Request, pool: NamedDependency[AsyncConnectionPool], replay_id: FromPath[int]
) -> ReplayOut:
    """A replay's progress: how many runs started, finished, failed; the first 200 in order."""
    async with pool.connection() as conn:
        found = await replays.get_replay(
            conn, replay_id, user_id=None if request.user.is_admin else request.user.id
        )
    return ReplayOut.model_validate(replays.replay_view(found))


@post(
    "/replays/{replay_id:int}/cancel",
    tags=["replays"],
    status_code=200,
    responses=documented(404, 409),
)
async def cancel_replay(
    request: Request, pool: NamedDependency[AsyncConnectionPool], replay_id: FromPath[int]
) -> ReplayOut:
    """Start no more of the replay's runs (those already started go on)."""
    async with pool.connection() as conn:
        found = await replays.cancel_replay(
            conn, replay_id, user_id=None if request.user.is_admin else request.user.id
        )
    return ReplayOut.model_validate(replays.replay_view(found))


@get(
    "/runs/{run_id:str}/events",
    tags=["runs"],
    media_type="text/event-stream",
    responses=documented(404),
)
async def run_events_stream(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    hub: NamedDependency[LiveHub],
    run_id: FromPath[str],
    last_event_id: Annotated[
        str | None,
        HeaderParameter(
            name="Last-Event-ID",
            description=(
                "Resume after this event id (the `id:` of the last event received). A value that is not "
                "one of our ids (not a whole number) is ignored: the stream starts from the first event."
            ),
        ),
    ] = None,
) -> Stream:
    """Server-sent events of the run: `status`, `step_started`, `step_completed`, `progress`,
    `hook_waiting`, `hook_resolved`, ... Each has an `id:`; reconnect with `Last-Event-ID` to
    resume with nothing missed or repeated. Ends after the run's final status event."""
    async with pool.connection() as conn:
        run = await find_run(conn, request, run_id)
    events = run_events(
        pool,
        hub,
        user_id=request.user.id,
        space_id=run.space_id,
        run_id=str(run.id),
        last_event_id=parse_last_event_id(last_event_id),
    )
    return Stream(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@post(
    "/hooks/{token:str}",
    tags=["hooks"],
    status_code=200,
    responses=documented(403, 404, 409, 413, 415, 422),
)
async def decide_hook(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    token: FromPath[str],
    data: JSONBody[DecideHook],
) -> DecidedHook:
    """Answer a hook, once: later answers get `409` (`already_decided`, `expired`, or
    `invalid_state` when the run has ended). The rules are the approvals page's: a hook is found
    by a member of its run's space or its assignee (else `404`); it is decided by its assignee,
    by the members at its assigned role or above, or (unassigned) by the run's owner; anyone else,
    and a viewer, gets `403` (`forbidden`) with the reason. A hook that asks for fields (a
    template's `ask_person`) checks `data` against them as its web form does: a missing or wrong
    value is `422` (`invalid_input`, one `fields` entry per field, `data.<name>`) and nothing is
    decided."""
    if not HOOK_TOKEN.match(token):
        raise HookNotFound("no such hook")
    user = request.user
    async with pool.connection() as conn:
        found = await hook_for_decider(conn, token, user.id)
        if found is None or (
            found.my_role is None and found.assignee != user.email.strip().lower()
        ):
            raise HookNotFound("no such hook")
        refused = refusal(found, user.id, user.email)
        if refused:
            raise policy.Forbidden(refused)
        hook = await resolve_hook(
            conn,
            token,
            data.action,
            checked_data(found, data.action, data.data),
            decided_by=user.email,
            owner_id=None,
            user_id=user.id,
        )
    return DecidedHook.model_validate(hook, from_attributes=True)


router = Router(
    "/api/v1",
    route_handlers=[
        list_workflows,
        start_run,
        list_runs,
        get_run,
        get_run_file,
        cancel_run,
        retry_run,
        rerun,
        start_replay,
        get_replay,
        cancel_replay,
        run_events_stream,
        decide_hook,
        *trigger_routes,
        *schedules.routes,
        *TEMPLATE_HANDLERS,
        list_audit,
    ],
    guards=[requires_api_key],
    dependencies={"hub": Provide(provide_hub)},
    exception_handlers=exception_handlers,
    request_class=JsonRequest,  # bodies read by the strict reader: malformed JSON is a 400, never a 500
    request_max_body_size=BODY_LIMIT,
    include_in_schema=True,  # the app leaves its pages out of the schema; the API is what it documents
    security=[{SECURITY_SCHEME: []}],
)
