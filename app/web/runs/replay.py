"""Bulk replay from the dashboard: choose a workflow, statuses and a time range (an admin also a
user, on whose behalf the runs are replayed: they stay that user's and count against their quota),
see how many and which runs match, then replay them (app/engine/replays.py paces it). The replay's
page follows it live (its events, `replay-<id>`, and the owner's runs) and can cancel it.
Another user's replay is a 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core import policy
from app.core.local_time import zone_of
from app.core.policy import Action
from app.core.sql_queries import load_queries
from app.engine import replays
from app.engine.errors import InputInvalid, InvalidState
from app.engine.registry import catalog
from app.web.auth import requires_login
from app.web.htmx import is_htmx
from app.web.runs import store
from app.web.runs.forms import field_errors

SQL = load_queries(__file__)
USER_BY_EMAIL = SQL["user_by_email"]
OWNER_EMAIL = SQL["owner_email"]

SHOWN = 100  # matching runs listed before starting (the count is always whole)
FIELDS = ("workflow", "since", "until", "from_step", "owner")


async def user_id_by_email(conn, email: str) -> int | None:
    row = await (await conn.execute(USER_BY_EMAIL, {"email": email})).fetchone()
    return row and row["id"]


def _local(text: str, zone: str | None, field: str, errors: dict[str, str]) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text[:40])
    except ValueError:
        errors[field] = "A date and time, like 2026-12-01 08:00."
        return None
    return when if when.tzinfo else when.replace(tzinfo=zone_of(zone))


async def _filters(conn, request: Request, values: dict[str, Any]) -> tuple[dict, dict[str, str]]:
    """The form's values as a replay filter, and the errors of its fields."""
    user = request.user
    errors: dict[str, str] = {}
    statuses = [s for s in values.get("status", []) if isinstance(s, str)][
        : len(replays.STATUSES)
    ] or ["failed"]
    f = {
        "workflow": str(values.get("workflow") or "").strip()[:100],
        "statuses": statuses,
        "from_step": str(values.get("from_step") or "failed"),
        "owner_id": user.id,
        "since": _local(str(values.get("since") or ""), user.time_zone, "since", errors),
        "until": _local(str(values.get("until") or ""), user.time_zone, "until", errors),
    }
    owner = str(values.get("owner") or "").strip()[:320]
    if owner and user.is_admin:
        found = await user_id_by_email(conn, owner)
        if found is None:
            errors["owner"] = "No user has this address."
        else:
            f["owner_id"] = found
    try:
        replays.check_filter(f["workflow"], statuses, f["from_step"], f["since"], f["until"])
    except InputInvalid as exc:
        errors = field_errors(exc.errors) | errors
    return f, errors


def _values(raw) -> dict[str, Any]:
    values: dict[str, Any] = {k: raw.get(k) for k in FIELDS}
    values["status"] = raw.getall("status", []) if hasattr(raw, "getall") else raw.get("status", [])
    return {k: v for k, v in values.items() if v not in (None, "")}


async def _page(
    request: Request, pool: AsyncConnectionPool, raw, *, preview: bool
) -> tuple[dict, int]:
    values = _values(raw)
    async with pool.connection() as conn:
        workflows = await store.owner_workflows(conn, request.user.id)
        context: dict[str, Any] = {
            "values": values,
            "errors": {},
            "matches": None,
            "workflows": workflows,
            "titles": {w.name: w.title for w in catalog(include_hidden=True)},
            "statuses": replays.STATUSES,
            "from_steps": replays.FROM_STEPS,
            "recent": await replays.list_replays(conn, request.user.id),
        }
        if not preview:
            return context, 200
        f, errors = await _filters(conn, request, values)
        if not errors:
            try:
                context["matches"] = await replays.select_runs(
                    conn,
                    workflow=f["workflow"],
                    statuses=f["statuses"],
                    since=f["since"],
                    until=f["until"],
                    **selection(request, f["owner_id"]),
                )
            except InputInvalid as exc:
                errors = field_errors(exc.errors)
        context["errors"] = errors
        context["shown"] = SHOWN
    return context, 422 if errors else 200


def selection(request, owner_id: int) -> dict:
    """Whose runs a replay selects: the request's space's (any member's) for one's own replay; an
    admin's replay on another user's behalf, that user's runs."""
    if owner_id == request.user.id:
        return {"owner_id": None, "space_id": request.user.space.id}
    return {"owner_id": owner_id, "space_id": None}


@get("/replay")
async def replay_form(
    request: Request, pool: NamedDependency[AsyncConnectionPool], preview: FromQuery[str] = ""
) -> Template:
    """The filter; with `preview`, also how many and which runs it selects, and the button to replay them."""
    context, status = await _page(request, pool, request.query_params, preview=bool(preview))
    return Template("pages/runs/replay.html", context=context, status_code=status)


@post("/replay")
async def start_replay(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Response:
    policy.require(request.user.space, Action.OPERATE)  # a viewer may not replay (403)
    raw = await request.form()
    values = _values(raw)
    async with pool.connection() as conn:
        f, errors = await _filters(conn, request, values)
        if not errors:
            try:
                selected = await replays.select_runs(
                    conn,
                    workflow=f["workflow"],
                    statuses=f["statuses"],
                    since=f["since"],
                    until=f["until"],
                    **selection(request, f["owner_id"]),
                )
                replay = await replays.create_replay(
                    conn,
                    requested_by=request.user.id,
                    owner_id=f["owner_id"],
                    workflow=f["workflow"],
                    statuses=f["statuses"],
                    from_step=f["from_step"],
                    selected=selected,
                    since=f["since"],
                    until=f["until"],
                )
                return Redirect(f"/workflows/replays/{replay['id']}", status_code=303)
            except InputInvalid as exc:
                errors = field_errors(exc.errors)
            except InvalidState as exc:
                errors = {"form": str(exc)}
    context, _ = await _page(request, pool, raw, preview=True)
    return Template("pages/runs/replay.html", context=context | {"errors": errors}, status_code=422)


async def _replay_context(pool: AsyncConnectionPool, request: Request, replay_id: int) -> dict:
    async with pool.connection() as conn:
        replay = await replays.get_replay(
            conn, replay_id, user_id=None if request.user.is_admin else request.user.id
        )
        owner = (
            await (await conn.execute(OWNER_EMAIL, {"id": replay["owner_id"]})).fetchone()
            if replay["owner_id"]
            else None
        )
    return {
        "replay": replay,
        "owner_email": owner and owner["email"],
        "titles": {w.name: w.title for w in catalog(include_hidden=True)},
        "error": None,
    }


@get("/replays/{replay_id:int}")
async def replay_page(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    replay_id: FromPath[int],
    fragment: FromQuery[str] = "",
) -> Template:
    context = await _replay_context(pool, request, replay_id)
    return Template(
        "partials/runs/replay_body.html"
        if fragment == "body"
        else "pages/runs/replay_progress.html",
        context=context,
    )


@post("/replays/{replay_id:int}/cancel")
async def cancel_replay(
    request: Request, pool: NamedDependency[AsyncConnectionPool], replay_id: FromPath[int]
) -> Response:
    error = None
    async with pool.connection() as conn:
        try:
            await replays.cancel_replay(
                conn, replay_id, user_id=None if request.user.is_admin else request.user.id
            )
        except InvalidState as exc:
            error = str(exc)
    if not is_htmx(request) and error is None:
        return Redirect(f"/workflows/replays/{replay_id}", status_code=303)
    context = await _replay_context(pool, request, replay_id) | {"error": error}
    return Template(
        "partials/runs/replay_body.html" if is_htmx(request) else "pages/runs/replay_progress.html",
        context=context,
        status_code=409 if error and not is_htmx(request) else 200,
    )


router = Router(
    path="/workflows",
    guards=[requires_login],
    route_handlers=[replay_form, start_replay, replay_page, cancel_replay],
)
