"""Delivering fixes to a code review that waits for them.

- `POST /code-review/<run id>/fixes` — the "Fixes pushed" button (a member of the run's space whose
  role may operate runs, CSRF, form field `ref`); answered with the card (HTMX) or a redirect to `/code-review/<run id>`.
- `POST /hooks/code-review/<run id>` — for a git hook or CI: a stable URL for the whole review (the
  engine's `/hooks/<token>` changes with every wait). No session: the body must be signed,
  `X-Baton-Signature: sha256=<hex HMAC-SHA256 of the body>`, with the run's webhook secret (shown
  to the owner on the card). Body `{"ref": "<branch, tag or commit>"}`.
Both resolve the run's waiting webhook hook with `{"ref": ...}`; the run then fetches the ref and
runs the tests again. Not waiting for fixes → 409 and nothing changes.
"""

from __future__ import annotations

from uuid import UUID

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.config import Settings
from app.core.policy import Action
from app.engine.errors import EngineError, RunNotFound
from app.engine.hooks import resolve_hook
from app.steps.git import SourceRefused, check_ref
from app.web.auth import requires_login
from app.web.auth.forms import parse_form
from app.web.code_review.panel import webhook_secret
from app.web.htmx import is_htmx
from app.web.json_errors import ApiError, exception_handlers
from app.web.runs.access import find_run, space_id
from app.web.runs.cards import load_card
from app.web.signed_json import SIGNATURE_HEADER, json_object, signature_valid
from app.workflows.code_review import NAME

BODY_LIMIT = 16 * 1024
PAGE = "pages/runs/workflow_card.html"
CARD = "partials/runs/card.html"
# The run's current wait for fixes (a read of the engine's hooks table).
WAITING_HOOK = """
SELECT h.token, r.owner_id FROM runs r
LEFT JOIN hooks h ON h.run_id = r.id AND h.status = 'waiting' AND h.kind = 'webhook'
WHERE r.id = %(run_id)s AND r.workflow = %(workflow)s
"""


class FixesForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    ref: str = Field(max_length=200)

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        try:
            return check_ref(value)
        except SourceRefused:
            raise ValueError(
                "Not a git ref: a branch, tag or commit like main or 1a2b3c4."
            ) from None


class NotWaiting(Exception):
    pass


async def deliver_fixes(
    conn: AsyncConnection, run_id: UUID, ref: str, *, owner_id: int | None, decided_by: str
) -> None:
    row = await (await conn.execute(WAITING_HOOK, {"run_id": run_id, "workflow": NAME})).fetchone()
    if row is None or (owner_id is not None and row["owner_id"] != owner_id):
        raise RunNotFound("no such run")
    if row["token"] is None:
        raise NotWaiting("This review is not waiting for fixes.")
    await resolve_hook(
        conn, row["token"], "deliver", {"ref": ref}, decided_by=decided_by, owner_id=row["owner_id"]
    )


async def _card(pool: AsyncConnectionPool, request: Request, run_id: UUID) -> dict:
    """The review's card, for any member of the run's space (the request's): 404 otherwise."""
    async with pool.connection() as conn:
        return await load_card(
            conn, run_id, None, workflow=NAME, space_id=space_id(request), viewer_id=request.user.id
        )


@get("/{run_id:uuid}")
async def review_page(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Template:
    return Template(PAGE, context={"card": await _card(pool, request, run_id), "notice": None})


@post("/{run_id:uuid}/fixes", request_max_body_size=BODY_LIMIT)
async def fixes_pushed(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Response:
    form = await parse_form(request, FixesForm)
    notice = None
    if form.data is None:
        notice = next(iter(form.errors.values()))
    else:
        try:
            async with pool.connection() as conn:
                # 404 outside the request's space, 403 for a viewer (app/core/policy.py)
                run = await find_run(conn, request, run_id, Action.OPERATE)
                await deliver_fixes(
                    conn,
                    run_id,
                    form.data.ref,
                    owner_id=run.owner_id,
                    decided_by=request.user.email,
                )
        except RunNotFound:
            raise  # a 404 page, like any run not in the request's space
        except (NotWaiting, EngineError) as exc:
            notice = f"Nothing was changed: {exc}"
    if not is_htmx(request) and notice is None:
        return Redirect(f"/code-review/{run_id}", status_code=303)
    card = await _card(pool, request, run_id)
    if is_htmx(request):
        return Template(
            CARD,
            context={
                "card": card,
                "notice": notice or f"Fixes at {form.data.ref}: running the tests again.",
            },
        )
    return Template(PAGE, context={"card": card, "notice": notice}, status_code=409)


@post("/{run_id:uuid}", request_max_body_size=BODY_LIMIT, status_code=200)
async def fixes_webhook(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    run_id: FromPath[UUID],
) -> Response:
    body = await request.body()
    if not signature_valid(
        webhook_secret(settings, str(run_id)), body, request.headers.get(SIGNATURE_HEADER)
    ):
        raise ApiError(
            "invalid_signature",
            f"Missing or wrong {SIGNATURE_HEADER} header (sha256=<hex HMAC-SHA256 of the body>).",
        )
    data = json_object(body)
    try:
        ref = check_ref(str(data.get("ref") or ""))
    except SourceRefused:
        raise ApiError("bad_request", 'The body needs "ref": a branch, tag or commit.') from None
    async with pool.connection() as conn:
        try:
            await deliver_fixes(conn, run_id, ref, owner_id=None, decided_by="webhook")
        except NotWaiting as exc:
            raise ApiError("invalid_state", str(exc)) from None
    return Response({"status": "delivered", "run_id": str(run_id), "ref": ref}, status_code=200)


router = Router("/code-review", route_handlers=[review_page, fixes_pushed], guards=[requires_login])
hooks_router = Router(
    "/hooks/code-review",
    route_handlers=[fixes_webhook],
    exception_handlers=exception_handlers,
    include_in_schema=False,
)
