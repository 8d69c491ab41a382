"""The JSON API of schedules: create, list, read (with the last fires), edit, pause, resume, run
now, backfill, delete. The caller's own schedules only (anything else is a 404); shapes are those of
`baton schedules list --json` (`app.schedules.views`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from psycopg_pool import AsyncConnectionPool
from pydantic import AwareDatetime, BaseModel, Field

from app.core.policy import Action, require
from app.engine.errors import InputInvalid
from app.schedules import store
from app.schedules.drafts import DraftInvalid, check_draft, find_template
from app.schedules.views import fire_view, schedule_view
from app.web.api.schemas import _Body
from app.web.json_errors import documented

Overlap = Literal["skip", "buffer-one", "allow-all", "cancel-previous"]
CatchUp = Literal["latest", "all", "none"]


class ScheduleIn(_Body):
    workflow: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description=("A name from `GET /api/v1/workflows`. Give `workflow` or `template`."),
    )
    template: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description=(
            "A template's slug (yours, shared with you, or the gallery's): each fire runs its current version."
        ),
    )
    input: dict[str, Any] = Field(
        default_factory=dict, description="Validated against the workflow's input schema."
    )
    cron: str | None = Field(
        default=None,
        max_length=200,
        description=(
            "5-field cron expression or `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly`, read in `time_zone`. "
            "Give `cron` or `every`."
        ),
    )
    every: str | None = Field(
        default=None,
        max_length=40,
        description="An interval: `1s`, `90s`, `15m`, `6h`, `1d`, `1h30m`.",
    )
    time_zone: str | None = Field(
        default=None, max_length=64, description="IANA name; default: yours (settings), else UTC."
    )
    name: str | None = Field(default=None, max_length=120)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    overlap: Overlap = Field(
        default="skip", description="While a run of the schedule is still going."
    )
    catch_up: CatchUp = Field(default="latest", description="Fires missed while no worker ran.")
    catch_up_window_s: int = Field(default=86400, ge=1, le=366 * 86400)
    pause_after_failures: int | None = Field(default=None, ge=1, le=1000)


class PauseIn(_Body):
    note: str | None = Field(default=None, max_length=500)


class BackfillIn(_Body):
    start: AwareDatetime
    end: AwareDatetime
    overlap: Overlap = "allow-all"


class ScheduleOut(BaseModel):
    id: UUID
    name: str
    workflow: str | None
    template: str | None = Field(
        default=None, description="The template's slug, for a template target."
    )
    template_id: int | None = None
    input: dict[str, Any]
    spec: str = Field(description="The cron expression or interval as given.")
    spec_words: str = Field(description="The spec in words, with its time zone.")
    cron: str | None
    every_s: int | None
    time_zone: str
    starts_at: datetime | None
    ends_at: datetime | None
    overlap: Overlap
    catch_up: CatchUp
    catch_up_window_s: int
    pause_after_failures: int | None
    paused: bool
    paused_note: str | None
    next_fire_at: datetime | None = Field(description="Null while paused or when no fire is left.")
    last_fire_at: datetime | None = None
    last_outcome: str | None = None
    last_run_id: UUID | None = None
    last_run_status: str | None = None
    created_at: datetime


class FireOut(BaseModel):
    fire_at: datetime
    kind: Literal["scheduled", "catch-up", "manual", "backfill"]
    outcome: str = Field(
        description="`started`, `buffered`, `skipped: overlap`, `skipped: quota`, `skipped: buffer full`, `skipped: no access` (the owner may no longer start runs in the schedule's space) or `failed`."
    )
    detail: str | None
    run_id: UUID | None
    run_status: str | None = None


class ScheduleDetail(ScheduleOut):
    fires: list[FireOut] = Field(
        description="The last 20 fires, newest first, with their runs' status."
    )


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]


class BackfillOut(BaseModel):
    fires: list[FireOut]


async def _draft(conn, data: ScheduleIn, user_id: int, space_id: int | None = None):
    template = (
        await find_template(conn, user_id, data.template, space_id) if data.template else None
    )
    default_zone = await store.owner_zone(conn, user_id)
    try:
        return check_draft(
            name=data.name,
            workflow=data.workflow,
            template=template,
            template_slug=data.template,
            input=data.input,
            cron=data.cron,
            every=data.every,
            time_zone=data.time_zone,
            default_zone=default_zone,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            overlap=data.overlap,
            catch_up=data.catch_up,
            catch_up_window_s=data.catch_up_window_s,
            pause_after_failures=data.pause_after_failures,
        )
    except DraftInvalid as exc:
        spec_field = (
            "every" if data.every and not data.cron else "cron"
        )  # the body names the spec so
        raise InputInvalid(
            [
                {"field": spec_field if k == "spec" else k, "message": v}
                for k, v in exc.errors.items()
            ]
        ) from None


def _sid(request: Request) -> int:
    """The key's space: schedules are those of the space the key acts in."""
    return request.user.space.id


async def _found(conn, request: Request, schedule_id, needs: Action) -> None:
    """A 404 for another space's schedule, then a 403 when the key's role may not do this."""
    await store.get_schedule(conn, schedule_id, request.user.id, space_id=_sid(request))
    require(request.user.space, needs)


async def _detail(conn, schedule_id, user_id: int, space_id: int | None = None) -> ScheduleDetail:
    row = await store.get_schedule(conn, schedule_id, user_id, space_id=space_id)
    fires = [fire_view(f) for f in await store.recent_fires(conn, row["id"], 20)]
    return ScheduleDetail.model_validate(schedule_view(row) | {"fires": fires})


@post("/schedules", tags=["schedules"], status_code=201, responses=documented(403, 413, 415, 422))
async def create_schedule(
    request: Request, pool: NamedDependency[AsyncConnectionPool], data: JSONBody[ScheduleIn]
) -> ScheduleDetail:
    """Create a schedule; it fires from its next time on. A bad spec, zone or input is a `422` naming the field."""
    require(request.user.space, Action.EDIT)
    async with pool.connection() as conn:
        draft = await _draft(conn, data, request.user.id, _sid(request))
        row = await store.create_schedule(conn, request.user.id, draft, space_id=_sid(request))
        return await _detail(conn, row["id"], request.user.id, _sid(request))


@get("/schedules", tags=["schedules"], responses=documented())
async def list_schedules(
    request: Request, pool: NamedDependency[AsyncConnectionPool]
) -> ScheduleList:
    """Your schedules, by name, each with its next fire and its last fire's run."""
    async with pool.connection() as conn:
        rows = await store.list_schedules(conn, request.user.id, space_id=_sid(request))
    return ScheduleList(schedules=[ScheduleOut.model_validate(schedule_view(r)) for r in rows])


@get("/schedules/{schedule_id:str}", tags=["schedules"], responses=documented(404))
async def get_schedule(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[str]
) -> ScheduleDetail:
    """A schedule with its last fires and their runs."""
    async with pool.connection() as conn:
        return await _detail(conn, schedule_id, request.user.id, _sid(request))


@patch(
    "/schedules/{schedule_id:str}",
    tags=["schedules"],
    responses=documented(403, 404, 413, 415, 422),
)
async def update_schedule(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    schedule_id: FromPath[str],
    data: JSONBody[ScheduleIn],
) -> ScheduleDetail:
    """Replace a schedule's settings (send them all); its next fire is computed again from now."""
    async with pool.connection() as conn:
        await _found(conn, request, schedule_id, Action.EDIT)  # a 404 (403) before a 422
        draft = await _draft(conn, data, request.user.id, _sid(request))
        await store.update_schedule(
            conn, schedule_id, request.user.id, draft, space_id=_sid(request)
        )
        return await _detail(conn, schedule_id, request.user.id, _sid(request))


@post(
    "/schedules/{schedule_id:str}/pause",
    tags=["schedules"],
    status_code=200,
    responses=documented(403, 404, 413, 415, 422),
)
async def pause_schedule(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    schedule_id: FromPath[str],
    data: JSONBody[PauseIn],
) -> ScheduleDetail:
    """Pause: no fire until resumed. The body is `{}` or `{"note": "why"}` (shown with the schedule)."""
    async with pool.connection() as conn:
        await _found(conn, request, schedule_id, Action.EDIT)
        await store.pause_schedule(
            conn, schedule_id, request.user.id, data.note, space_id=_sid(request)
        )
        return await _detail(conn, schedule_id, request.user.id, _sid(request))


@post(
    "/schedules/{schedule_id:str}/resume",
    tags=["schedules"],
    status_code=200,
    responses=documented(403, 404),
)
async def resume_schedule(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[str]
) -> ScheduleDetail:
    """Resume from the next fire after now (what fell due while paused is not run)."""
    async with pool.connection() as conn:
        await _found(conn, request, schedule_id, Action.EDIT)
        await store.resume_schedule(conn, schedule_id, request.user.id, space_id=_sid(request))
        return await _detail(conn, schedule_id, request.user.id, _sid(request))


@post(
    "/schedules/{schedule_id:str}/trigger",
    tags=["schedules"],
    status_code=201,
    responses=documented(402, 403, 404, 409),
)
async def trigger_schedule(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[str]
) -> FireOut:
    """Run now: one fire at this moment, whatever the overlap policy. `402` over your monthly quota."""
    async with pool.connection() as conn:
        await _found(conn, request, schedule_id, Action.START)
        fired = await store.trigger_schedule(
            conn, schedule_id, request.user.id, space_id=_sid(request)
        )
    return FireOut(
        fire_at=fired.fire_at,
        kind="manual",
        outcome=fired.outcome,
        detail=fired.detail,
        run_id=fired.run.id,
        run_status=fired.run.status,
    )


@post(
    "/schedules/{schedule_id:str}/backfill",
    tags=["schedules"],
    status_code=200,
    responses=documented(403, 404, 413, 415, 422),
)
async def backfill_schedule(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    schedule_id: FromPath[str],
    data: JSONBody[BackfillIn],
) -> BackfillOut:
    """Make now the fires the spec had between `start` and `end` (past, at most 100), oldest first;
    `overlap` decides what happens while one of them still runs."""
    async with pool.connection() as conn:
        await _found(conn, request, schedule_id, Action.START)
        results = await store.backfill_schedule(
            conn,
            schedule_id,
            request.user.id,
            start=data.start,
            end=data.end,
            overlap=data.overlap,
            space_id=_sid(request),
        )
    return BackfillOut(
        fires=[
            FireOut(
                fire_at=r.fire_at,
                kind="backfill",
                outcome=r.outcome,
                detail=r.detail,
                run_id=r.run.id if r.run else None,
                run_status=r.run.status if r.run else None,
            )
            for r in results
            if not r.duplicate
        ]
    )


@delete(
    "/schedules/{schedule_id:str}",
    tags=["schedules"],
    status_code=204,
    responses=documented(403, 404),
)
async def delete_schedule(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[str]
) -> Response[None]:
    """Delete a schedule; its runs stay (no longer linked to it)."""
    async with pool.connection() as conn:
        await _found(conn, request, schedule_id, Action.EDIT)
        await store.delete_schedule(conn, schedule_id, request.user.id, space_id=_sid(request))
    return Response(None, status_code=204)


routes = [
    create_schedule,
    list_schedules,
    get_schedule,
    update_schedule,
    pause_schedule,
    resume_schedule,
    trigger_schedule,
    backfill_schedule,
    delete_schedule,
]
