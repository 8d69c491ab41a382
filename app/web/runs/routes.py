"""The workflows dashboard: the runs of the request's space (every member's), a run's detail,
cancel and retry. Every page works as plain links and forms; the page's live channel (/live) tells
them when to re-read. Another space's run is a 404; cancel and retry need a role that may operate
runs (a viewer gets a 403 saying so)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core.policy import Action
from app.engine import commands
from app.engine.errors import EngineError, InputInvalid, InvalidState, RunNotFound
from app.engine.registry import catalog
from app.web.auth import requires_login
from app.web.htmx import is_htmx
from app.web.runs import store
from app.web.runs.access import find_run, space_id
from app.web.runs.rerun import source_of
from app.web.runs.timeline import waterfall

STATUSES = ("queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled")


def _titles() -> dict[str, str]:
    return {w.name: w.title for w in catalog(include_hidden=True)}


@get("/")
async def runs_page(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    status: FromQuery[str] = "",
    workflow: FromQuery[str] = "",
    q: FromQuery[str] = "",
    cursor: FromQuery[str] = "",
    fragment: FromQuery[str] = "",
) -> Template:
    filters = {
        "status": status if status in STATUSES else "",
        "workflow": workflow.strip()[:100],
        "q": q.strip()[:200],
    }
    async with pool.connection() as conn:
        try:
            runs, next_cursor = await store.user_runs(
                conn,
                space_id(request),
                status=filters["status"] or None,
                workflow=filters["workflow"] or None,
                q=filters["q"] or None,
                cursor=cursor or None,
            )
        except InputInvalid:
            runs, next_cursor, cursor = (
                *(
                    await store.user_runs(
                        conn, space_id(request), status=None, workflow=None, q=None, cursor=None
                    )
                ),
                "",
            )
        workflows = await store.user_workflows(conn, space_id(request))
    context = {
        "runs": runs,
        "next_cursor": next_cursor,
        "cursor": cursor,
        "filters": filters,
        "statuses": STATUSES,
        "workflows": workflows,
        "titles": _titles(),
        # A team's dashboard says whose it is and who started each run.
        "team": request.user.space.name if request.user.space.is_team else None,
    }
    template = "partials/dashboard/run_rows.html" if fragment == "rows" else "pages/runs/list.html"
    return Template(template, context=context)


async def _run_or_404(pool: AsyncConnectionPool, request: Request, run_id: UUID) -> dict:
    """The run page's context: the run, its events, files and the run it reran (`source`)."""
    async with pool.connection() as conn:
        run = await find_run(conn, request, run_id)  # no hook tokens: the page never shows them
        return {
            "run": run,
            "events": await store.run_events(conn, run_id),
            "artifacts": await store.run_artifacts(conn, run_id),
            "source": await source_of(conn, run, space_id(request)),
        }


def _open_steps(value: str) -> frozenset[int]:
    """`?open=3,7`: the steps shown open with their values (a link without JavaScript; the live
    re-read keeps the ones the reader opened). Anything else is ignored."""
    return frozenset(
        int(n) for n in value.split(",")[:50] if n.isascii() and n.isdigit() and len(n) < 9
    )


def _context(
    request: Request, found: dict, error: str | None, open_steps: frozenset[int] = frozenset()
) -> dict:
    run = found["run"]
    return found | {
        "timeline": waterfall(run, open_steps=open_steps),
        "titles": _titles(),
        "error": error,
    }


@get("/{run_id:uuid}")
async def run_page(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    run_id: FromPath[UUID],
    fragment: FromQuery[str] = "",
    open_steps: Annotated[str, QueryParameter(name="open")] = "",
) -> Template:
    try:
        found = await _run_or_404(pool, request, run_id)
    except RunNotFound:
        # A link (a mail, a colleague's message) to a run of another of the reader's spaces: say
        # where it is and offer to switch, rather than "not found". Anyone else: not found.
        async with pool.connection() as conn:
            elsewhere = await store.run_space_of_member(conn, run_id, request.user.id)
        if elsewhere is None or fragment:
            raise
        return Template(
            "pages/runs/other_space.html", context={"space": elsewhere, "run_id": run_id}
        )
    return Template(
        "partials/dashboard/run_body.html" if fragment == "body" else "pages/runs/detail.html",
        context=_context(request, found, None, _open_steps(open_steps)),
    )


@get("/{run_id:uuid}/cancel")
async def confirm_cancel(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Template:
    """The confirmation step for browsers without JavaScript (with it, hx-confirm asks)."""
    async with pool.connection() as conn:
        run = await find_run(conn, request, run_id, Action.OPERATE)
    return Template("pages/runs/confirm_cancel.html", context={"run": run})


async def _act(request: Request, pool: AsyncConnectionPool, run_id: UUID, action) -> Response:
    async with pool.connection() as conn:
        await find_run(conn, request, run_id, Action.OPERATE)  # 404 elsewhere, 403 for a viewer
        try:
            await action(conn, run_id, space_id=space_id(request), actor_id=request.user.id)
            message = None
        except RunNotFound:
            raise  # a 404 page, like any run that is not in this space
        except (InvalidState, EngineError) as exc:
            message = str(exc)
    if not is_htmx(request) and message is None:
        return Redirect(f"/workflows/{run_id}", status_code=303)
    found = await _run_or_404(pool, request, run_id)
    template = "partials/dashboard/run_body.html" if is_htmx(request) else "pages/runs/detail.html"
    # An HTMX swap shows the message in place (a 4xx would not be swapped); a plain form gets a 409 page.
    return Template(
        template,
        context=_context(request, found, message),
        status_code=409 if message and not is_htmx(request) else 200,
    )


@post("/{run_id:uuid}/cancel")
async def cancel(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Response:
    return await _act(request, pool, run_id, commands.cancel_run)


@post("/{run_id:uuid}/retry")
async def retry(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Response:
    return await _act(request, pool, run_id, commands.retry_run)


router = Router(
    path="/workflows",
    guards=[requires_login],
    route_handlers=[runs_page, run_page, confirm_cancel, cancel, retry],
)
