"""Editing a publishing run's schedule: `/publishing/<run id>` (the run's card on a page of its own)
and its actions. Each is a plain form that works without JavaScript (answered by a redirect to the
page) and with HTMX (answered by the re-rendered card). The run is found in the request's space (any
member's run there; another space's is a 404) and changing it needs a role that may operate runs
(a viewer gets 403, app/core/policy.py); a post that is
being published or already went out can't be changed (the card says so).

Every change goes through app/steps/publishers/schedule.py, which bumps the schedule's version and
wakes the run when it waits for a post, in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.policy import Action
from app.steps.posts import clean_post
from app.steps.publishers import schedule as S
from app.web.auth import requires_login
from app.web.auth.forms import parse_form
from app.web.htmx import is_htmx
from app.web.runs.access import find_run, space_id
from app.web.runs.cards import load_card
from app.workflows.publishing import NAME

BODY_LIMIT = 16 * 1024
MAX_AHEAD = timedelta(days=60)
PAGE = "pages/runs/workflow_card.html"
CARD = "partials/runs/card.html"


class PostForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    body: str = Field(max_length=2000)
    publish_at: str = Field(max_length=40)

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        value = clean_post(value)
        if not value:
            raise ValueError("A post needs some text.")
        if len(value) > S.MAX_POST:
            raise ValueError(f"At most {S.MAX_POST} characters.")
        return value

    @field_validator("publish_at")
    @classmethod
    def _when(cls, value: str) -> str:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("Pick a date and a time.") from None
        if parsed.tzinfo is not None:
            raise ValueError("Pick a date and a time.")
        return value.strip()


class MoveForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    direction: str

    @field_validator("direction")
    @classmethod
    def _direction(cls, value: str) -> str:
        if value not in ("up", "down"):
            raise ValueError("Move up or down.")
        return value


async def _card(pool: AsyncConnectionPool, request: Request, run_id: UUID) -> dict:
    async with pool.connection() as conn:
        return await load_card(
            conn, run_id, None, workflow=NAME, space_id=space_id(request), viewer_id=request.user.id
        )


async def _starter(conn, request: Request, run_id: UUID) -> int:
    """Who started the run of the request's space that the member may operate (the schedule is
    theirs); RunNotFound (404) outside the space, policy.Forbidden (403) for a viewer."""
    run = await find_run(conn, request, run_id, Action.OPERATE)
    if run.workflow != NAME:
        raise NotFoundException()
    return run.owner_id


async def _answer(
    request: Request,
    pool: AsyncConnectionPool,
    run_id: UUID,
    notice: str | None = None,
    status: int = 409,
) -> Response:
    """After an action: HTMX gets the card (with the notice, 200 so it is swapped); a plain form
    gets a redirect to the page, or the page with the notice and an error status."""
    if not is_htmx(request) and notice is None:
        return Redirect(f"/publishing/{run_id}", status_code=303)
    card = await _card(pool, request, run_id)
    if is_htmx(request):
        return Template(CARD, context={"card": card, "notice": notice})
    return Template(PAGE, context={"card": card, "notice": notice}, status_code=status)


@get("/{run_id:uuid}")
async def schedule_page(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Template:
    return Template(PAGE, context={"card": await _card(pool, request, run_id), "notice": None})


async def _change(request: Request, pool: AsyncConnectionPool, run_id: UUID, change) -> Response:
    """`change(conn, owner_id)` on the run's schedule, once the member may operate the run."""
    try:
        async with pool.connection() as conn:
            await change(conn, await _starter(conn, request, run_id))
    except LookupError:
        raise NotFoundException() from None
    except S.ScheduleLocked as exc:
        return await _answer(request, pool, run_id, str(exc))
    return await _answer(request, pool, run_id)


@post("/{run_id:uuid}/posts/{post_id:int}", request_max_body_size=BODY_LIMIT)
async def edit_post(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    run_id: FromPath[UUID],
    post_id: FromPath[int],
) -> Response:
    form = await parse_form(request, PostForm)
    if form.data is None:
        first = next(iter(form.errors.values()))
        return await _answer(request, pool, run_id, f"Post not saved: {first}", status=422)
    async with pool.connection() as conn:
        starter = await _starter(conn, request, run_id)
        schedule = await S.get_schedule(conn, run_id)
    if schedule is None or schedule["owner_id"] != starter:
        raise NotFoundException()
    when = datetime.fromisoformat(form.data.publish_at).replace(
        tzinfo=ZoneInfo(schedule["timezone"])
    )
    now = datetime.now(UTC)
    if when <= now:
        return await _answer(
            request, pool, run_id, "Post not saved: pick a time in the future.", status=422
        )
    if when > now + MAX_AHEAD:
        return await _answer(
            request, pool, run_id, "Post not saved: at most 60 days ahead.", status=422
        )
    return await _change(
        request,
        pool,
        run_id,
        lambda conn, owner_id: S.edit_post(
            conn,
            run_id=run_id,
            owner_id=owner_id,
            post_id=post_id,
            body=form.data.body,
            publish_at=when,
        ),
    )


@post("/{run_id:uuid}/posts/{post_id:int}/delete", request_max_body_size=BODY_LIMIT)
async def delete_post(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    run_id: FromPath[UUID],
    post_id: FromPath[int],
) -> Response:
    return await _change(
        request,
        pool,
        run_id,
        lambda conn, owner_id: S.delete_post(
            conn, run_id=run_id, owner_id=owner_id, post_id=post_id
        ),
    )


@post("/{run_id:uuid}/posts/{post_id:int}/move", request_max_body_size=BODY_LIMIT)
async def move_post(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    run_id: FromPath[UUID],
    post_id: FromPath[int],
) -> Response:
    form = await parse_form(request, MoveForm)
    if form.data is None:
        return await _answer(request, pool, run_id, "Move up or down.", status=422)
    return await _change(
        request,
        pool,
        run_id,
        lambda conn, owner_id: S.move_post(
            conn,
            run_id=run_id,
            owner_id=owner_id,
            post_id=post_id,
            up=form.data.direction == "up",
        ),
    )


@post("/{run_id:uuid}/cancel-remaining", request_max_body_size=BODY_LIMIT)
async def cancel_remaining(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Response:
    return await _change(
        request,
        pool,
        run_id,
        lambda conn, owner_id: S.cancel_remaining_by_owner(conn, run_id=run_id, owner_id=owner_id),
    )


router = Router(
    "/publishing",
    route_handlers=[schedule_page, edit_post, delete_post, move_post, cancel_remaining],
    guards=[requires_login],
)
