"""/schedules: the current space's schedules (list, create, edit, pause with a note, resume, run now,
backfill, delete), with a live preview of the next fires as the spec is typed. Plain forms with
CSRF tokens that HTMX enhances; another space's schedule is a 404, a change by a viewer a 403."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core.local_time import BadTimeZone, parse_zone, zone_names
from app.core.policy import Action, require
from app.engine.errors import EngineError
from app.engine.registry import catalog
from app.schedules import store
from app.schedules.drafts import OVERLAPS, DraftInvalid, find_template, schedulable_workflow
from app.schedules.firing import spec_of
from app.schedules.spec import BadSpec, describe, fires_between, make_spec
from app.templates.store import list_templates
from app.web.auth import requires_login
from app.web.htmx import is_htmx, navigate
from app.web.runs.forms import form_fields
from app.web.schedules.forms import (
    CATCH_UP_WORDS,
    OVERLAP_WORDS,
    form_values,
    read_form,
    split_when,
    values_of,
)

BODY_LIMIT = 64 * 1024
TEMPLATE = "template:"  # the picker's value for a template target: "template:<slug>"
PREVIEW_COUNT = 5


def _not_found(exc: Exception) -> NotFoundException:
    return NotFoundException("no such schedule")


def _sid(request: Request) -> int:
    return request.user.space.id


async def _form_context(
    conn,
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    schedule: dict | None = None,
) -> dict:
    """The form: the target picker (workflows, then the templates the person may run), the chosen
    target's own input fields, the spec with its preview."""
    workflows = [w for w in catalog() if schedulable_workflow(w.name)]
    listed = await list_templates(conn, user_id=request.user.id, space_id=_sid(request))
    templates = {
        t["slug"]: t for group in ("mine", "shared", "gallery") for t in listed.get(group, [])
    }
    picked = values.get("sched_workflow", "")
    template = (
        await find_template(conn, request.user.id, picked.removeprefix(TEMPLATE), _sid(request))
        if picked.startswith(TEMPLATE)
        else None
    )
    chosen = (
        None
        if template
        else schedulable_workflow(picked) or (workflows[0] if workflows and not picked else None)
    )
    model = template.input_model() if template else chosen.input_model if chosen else None
    values = {"sched_tz": request.user.time_zone or "UTC", **values}
    target = (
        {"title": template.title, "description": template.document.description or ""}
        if template
        else {"title": chosen.title, "description": chosen.description}
        if chosen
        else None
    )
    return {
        "values": values,
        "errors": errors,
        "workflows": workflows,
        "templates": list(templates.values()),
        "picked": picked or (chosen.name if chosen else ""),
        "wf": target,
        "fields": form_fields(model, values) if model else [],
        "zones": zone_names(),
        "overlaps": OVERLAP_WORDS,
        "catch_ups": CATCH_UP_WORDS,
        "schedule": schedule,
        "preview": _preview(values.get("sched_when", ""), values["sched_tz"]),
    }


def _preview(text: str, zone_text: str) -> dict:
    """What the spec means and its next fires, or why it cannot be read."""
    if not text.strip():
        return {"error": None, "words": None, "fires": []}
    try:
        zone = parse_zone(zone_text) or "UTC"
        when = split_when(text)
        spec = make_spec(
            cron=when.cron,
            every=when.every,
            zone=zone,
            anchor=datetime.now(UTC).replace(microsecond=0),
        )
    except (BadSpec, BadTimeZone) as exc:
        return {"error": str(exc), "words": None, "fires": []}
    now = datetime.now(UTC)
    return {
        "error": None,
        "words": describe(spec),
        "zone": spec.zone,
        "fires": fires_between(spec, now, now + timedelta(days=3660), PREVIEW_COUNT),
        # Fires seconds apart would read as five equal times without their seconds.
        "style": "seconds" if spec.every_s and spec.every_s < 3600 else "weekday",
    }


@get("/")
async def schedules_page(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    async with pool.connection() as conn:
        rows = await store.list_schedules(conn, request.user.id, space_id=_sid(request))
    schedules = [row | {"words": describe(spec_of(row))} for row in rows]
    return Template("pages/schedules/list.html", context={"schedules": schedules})


@get("/new")
async def new_schedule(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    workflow: FromQuery[str] = "",
    sched_workflow: FromQuery[str] = "",
    fragment: FromQuery[str] = "",
) -> Template:
    chosen = (sched_workflow or workflow)[:120]
    require(request.user.space, Action.EDIT)
    values = {"sched_workflow": chosen} if chosen else {}
    async with pool.connection() as conn:
        context = await _form_context(conn, request, values, {})
    if fragment == "inputs":  # the target picker changed: its input fields only
        return Template("partials/schedules/input_fields.html", context=context)
    return Template("pages/schedules/form.html", context=context)


@get("/preview")
async def preview(sched_when: FromQuery[str] = "", sched_tz: FromQuery[str] = "") -> Template:
    return Template(
        "partials/schedules/preview.html",
        context={"preview": _preview(sched_when[:300], sched_tz[:64])},
    )


async def _save(request: Request, pool: AsyncConnectionPool, schedule_id: UUID | None) -> Response:
    form = await request.form()
    async with pool.connection() as conn:
        existing = None
        if schedule_id is not None:
            try:
                existing = await store.get_schedule(
                    conn, schedule_id, request.user.id, space_id=_sid(request)
                )
            except store.ScheduleNotFound as exc:
                raise _not_found(exc) from None
        require(request.user.space, Action.EDIT)
        try:
            picked = str(form.get("sched_workflow") or "")[:120]
            template = (
                await find_template(
                    conn, request.user.id, picked.removeprefix(TEMPLATE), _sid(request)
                )
                if picked.startswith(TEMPLATE)
                else None
            )
            draft = read_form(form, await store.owner_zone(conn, request.user.id), template)
        except DraftInvalid as exc:
            context = await _form_context(conn, request, form_values(form), exc.errors, existing)
            return Template("pages/schedules/form.html", context=context, status_code=422)
        if existing is None:
            row = await store.create_schedule(conn, request.user.id, draft, space_id=_sid(request))
        else:
            row = await store.update_schedule(
                conn, schedule_id, request.user.id, draft, space_id=_sid(request)
            )
    return navigate(request, f"/schedules/{row['id']}")


@post("/", request_max_body_size=BODY_LIMIT)
async def create(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Response:
    return await _save(request, pool, None)


@get("/{schedule_id:uuid}")
async def schedule_page(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    schedule_id: FromPath[UUID],
    fragment: FromQuery[str] = "",
) -> Template:
    context = await _detail(pool, request, schedule_id)
    return Template(
        "partials/schedules/fires.html" if fragment == "fires" else "pages/schedules/detail.html",
        context=context,
    )


async def _detail(
    pool: AsyncConnectionPool, request: Request, schedule_id: UUID, **extra: Any
) -> dict:
    async with pool.connection() as conn:
        try:
            schedule = await store.get_schedule(
                conn, schedule_id, request.user.id, space_id=_sid(request)
            )
        except store.ScheduleNotFound as exc:
            raise _not_found(exc) from None
        fires = await store.recent_fires(conn, schedule_id, 20)
    return {
        "schedule": schedule | {"words": describe(spec_of(schedule))},
        "fires": fires,
        "overlaps": OVERLAP_WORDS,
        "notice": None,
        "error": None,
        "backfill_errors": {},
        "can_take_over": request.user.space.kind == "team"
        and request.user.space.allows(Action.MEMBERS)
        and schedule["owner_id"] != request.user.id,
        **extra,
    }


@get("/{schedule_id:uuid}/edit")
async def edit_schedule(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[UUID]
) -> Template:
    async with pool.connection() as conn:
        try:
            schedule = await store.get_schedule(
                conn, schedule_id, request.user.id, space_id=_sid(request)
            )
        except store.ScheduleNotFound as exc:
            raise _not_found(exc) from None
        require(request.user.space, Action.EDIT)
        context = await _form_context(conn, request, values_of(schedule), {}, schedule)
    return Template("pages/schedules/form.html", context=context)


@post("/{schedule_id:uuid}", request_max_body_size=BODY_LIMIT)
async def update(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[UUID]
) -> Response:
    return await _save(request, pool, schedule_id)


async def _act(
    request: Request,
    pool: AsyncConnectionPool,
    schedule_id: UUID,
    action,
    notice: str,
    *,
    needs: Action = Action.EDIT,
) -> Response:
    async with pool.connection() as conn:
        try:
            await store.get_schedule(conn, schedule_id, request.user.id, space_id=_sid(request))
            require(request.user.space, needs)
            outcome = await action(conn)
            error = None
        except store.ScheduleNotFound as exc:
            raise _not_found(exc) from None
        except EngineError as exc:  # run now refused (quota, a broken target)
            outcome, error = None, str(exc)
    if error is None and not is_htmx(request):
        return Redirect(f"/schedules/{schedule_id}", status_code=303)
    context = await _detail(
        pool, request, schedule_id, notice=None if error else notice(outcome), error=error
    )
    return Template(
        "partials/schedules/panel.html" if is_htmx(request) else "pages/schedules/detail.html",
        context=context,
        status_code=200 if error is None or is_htmx(request) else 409,
    )


@post("/{schedule_id:uuid}/pause", request_max_body_size=BODY_LIMIT)
async def pause(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[UUID]
) -> Response:
    note = (await request.form()).get("note")
    return await _act(
        request,
        pool,
        schedule_id,
        lambda conn: store.pause_schedule(
            conn,
            schedule_id,
            request.user.id,
            note if isinstance(note, str) else None,
            space_id=_sid(request),
        ),
        lambda _: "Paused.",
    )


@post("/{schedule_id:uuid}/resume", request_max_body_size=BODY_LIMIT)
async def resume(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[UUID]
) -> Response:
    return await _act(
        request,
        pool,
        schedule_id,
        lambda conn: store.resume_schedule(
            conn, schedule_id, request.user.id, space_id=_sid(request)
        ),
        lambda _: "Resumed.",
    )


@post("/{schedule_id:uuid}/trigger", request_max_body_size=BODY_LIMIT)
async def trigger(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[UUID]
) -> Response:
    return await _act(
        request,
        pool,
        schedule_id,
        lambda conn: store.trigger_schedule(
            conn, schedule_id, request.user.id, space_id=_sid(request)
        ),
        lambda fired: "A run started now.",
        needs=Action.START,
    )


@post("/{schedule_id:uuid}/take-over", request_max_body_size=BODY_LIMIT)
async def take_over(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[UUID]
) -> Response:
    """A team admin takes over a schedule (its owner left the team): its fires start as them."""
    if request.user.space.kind != "team":
        raise _not_found(store.ScheduleNotFound("no such schedule"))
    return await _act(
        request,
        pool,
        schedule_id,
        lambda conn: store.take_over_schedule(
            conn, schedule_id, request.user.id, space_id=_sid(request)
        ),
        lambda _: "It is yours now: its runs start as you. Resume it when it should fire again.",
        needs=Action.MEMBERS,
    )


@post("/{schedule_id:uuid}/backfill", request_max_body_size=BODY_LIMIT)
async def backfill(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[UUID]
) -> Response:
    form = await request.form()
    errors: dict[str, str] = {}
    async with pool.connection() as conn:
        try:
            schedule = await store.get_schedule(
                conn, schedule_id, request.user.id, space_id=_sid(request)
            )
        except store.ScheduleNotFound as exc:
            raise _not_found(exc) from None
    require(request.user.space, Action.START)
    moments = {}
    for field in ("start", "end"):
        text = form.get(field)
        try:
            moments[field] = datetime.fromisoformat(str(text or "").strip()[:40]).replace(
                tzinfo=None
            )
        except ValueError:
            errors[field] = "Give a date and time."
    overlap = str(form.get("overlap") or "")
    if overlap not in OVERLAPS:
        errors["overlap"] = "Choose what happens while a run of this schedule still runs."
    if errors:
        context = await _detail(pool, request, schedule_id, backfill_errors=errors)
        return Template(
            "partials/schedules/panel.html" if is_htmx(request) else "pages/schedules/detail.html",
            context=context,
            status_code=200 if is_htmx(request) else 422,
        )
    zone = ZoneInfo(schedule["time_zone"])
    start, end = (moments[k].replace(tzinfo=zone) for k in ("start", "end"))

    def words(results) -> str:
        started = sum(1 for r in results if r.outcome == "started")
        return f"Backfill: {len(results)} fire{'s' if len(results) != 1 else ''}, {started} run{'s' if started != 1 else ''} started."

    return await _act(
        request,
        pool,
        schedule_id,
        lambda conn: store.backfill_schedule(
            conn,
            schedule_id,
            request.user.id,
            start=start,
            end=end,
            overlap=overlap,
            space_id=_sid(request),
        ),
        words,
        needs=Action.START,
    )


@post("/{schedule_id:uuid}/delete", request_max_body_size=BODY_LIMIT)
async def delete(
    request: Request, pool: NamedDependency[AsyncConnectionPool], schedule_id: FromPath[UUID]
) -> Response:
    async with pool.connection() as conn:
        try:
            await store.get_schedule(conn, schedule_id, request.user.id, space_id=_sid(request))
            require(request.user.space, Action.EDIT)
            await store.delete_schedule(conn, schedule_id, request.user.id, space_id=_sid(request))
        except store.ScheduleNotFound as exc:
            raise _not_found(exc) from None
    return navigate(request, "/schedules")


router = Router(
    path="/schedules",
    guards=[requires_login],
    route_handlers=[
        schedules_page,
        new_schedule,
        preview,
        create,
        schedule_page,
        edit_schedule,
        update,
        pause,
        resume,
        trigger,
        take_over,
        backfill,
        delete,
    ],
)
