"""`POST /hooks/t/<id>`: another system (a CMS, CI, a form service) starts a run of the trigger's
target (a workflow, or a template's current version) by posting JSON to it.

No session and no CSRF token (no cookie authenticates it): the credential is the trigger's secret,
as a signature of the raw body (`X-Baton-Signature: sha256=<hex HMAC-SHA256>`, the resume
webhooks' scheme, app/web/signed_json.py) or as `Authorization: Bearer <token>`. In this order:

    unknown id, disabled or deleted trigger      -> 404 not_found (nothing recorded)
    body over 1 MiB                              -> 413 body_too_large
    signature or token missing or wrong          -> 401 invalid_signature / unauthorized
    over the trigger's deliveries a minute       -> 429 rate_limited (Retry-After)
    a malformed Idempotency-Key header           -> 400 bad_request
    not a JSON object                            -> 400 invalid_json
    the mapped input is not valid for the target -> 422 invalid_input, with every wrong field
    the owner's monthly quota is used up         -> 402 quota_exceeded
    the target is gone (a deleted template)      -> 404 workflow_not_found
    a new run                                    -> 202 {"run_id", "status", "replayed": false}
    the Idempotency-Key named an earlier run     -> 200 the same run, "replayed": true

A refused delivery starts nothing; every delivery to a live trigger is recorded with its answer
(the trigger's page lists them). The idempotency key is scoped to the trigger, so two triggers (or
the API) using the same key never collide.
"""

from __future__ import annotations

import re
import secrets

import psycopg
from litestar import Request, Response, Router, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from psycopg_pool import AsyncConnectionPool

from app.core import ratelimit
from app.core.config import Settings
from app.core.policy import Forbidden
from app.core.secrets_box import SecretBox
from app.engine.errors import EngineError, InputInvalid, RunNotFound, WorkflowNotFound
from app.templates.start import choose
from app.templates.store import TemplateNotFound
from app.triggers import store
from app.triggers.mapping import map_body
from app.triggers.secrets import bearer_valid, signing_secret
from app.web.json_errors import STATUS, ApiError, RateLimited, exception_handlers
from app.web.runs.start import Refused, start_run
from app.web.signed_json import SIGNATURE_HEADER, json_object, signature_valid
from app.web.triggers.errors import TriggerNotFound

MAX_BODY = 1024 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Visible ASCII, as senders (Stripe, GitHub's delivery ids) use; long enough for any UUID or hash.
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


# A delivery's run starts in the trigger's space. A template's choice carries that space; a workflow's
# start passes it when the web's start path takes it (app/web/runs/start.py, teams #20).
NO_ACCESS = "The trigger's owner may no longer start runs in its space."


def _status_of(exc: Exception) -> int:
    if isinstance(exc, ApiError | EngineError):
        return STATUS.get(exc.code, 400)
    if isinstance(exc, HTTPException):
        return exc.status_code
    return 500


def _authenticate(trigger: dict, box: SecretBox, body: bytes, request: Request) -> None:
    if trigger["auth_mode"] == "hmac":
        secret = signing_secret(trigger["secret"], box)
        if secret is None or not signature_valid(
            secret, body, request.headers.get(SIGNATURE_HEADER)
        ):
            raise ApiError(
                "invalid_signature",
                f"Missing or wrong {SIGNATURE_HEADER} header "
                "(sha256=<hex HMAC-SHA256 of the body with the trigger's secret>).",
            )
    elif not bearer_valid(trigger["secret"], request.headers.get("authorization")):
        raise ApiError(
            "unauthorized",
            "Missing or wrong `Authorization: Bearer <token>` header.",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _idempotency_key(trigger: dict, request: Request) -> str:
    """The run's key: the sender's `Idempotency-Key` within this trigger; without one, a key of this
    delivery alone, so that every delivery's run still names its trigger (the audit log's
    `run.start` reads it from the key, app/engine/commands._audit_start) and none is replayed."""
    sent = request.headers.get(IDEMPOTENCY_HEADER)
    if sent is None:
        return f"trigger:{trigger['id']}:~delivery~{secrets.token_hex(16)}"
    if not IDEMPOTENCY_KEY.match(sent):
        raise ApiError(
            "bad_request", f"{IDEMPOTENCY_HEADER} must be 1 to 200 visible ASCII characters."
        )
    return f"trigger:{trigger['id']}:{sent}"


def _refusal(refused: Refused, sources: dict[str, str]) -> Exception:
    """The refusal as the error a sender gets; a wrong field names where in the body it came from."""
    if isinstance(refused.error, InputInvalid):
        problems = []
        for problem in refused.error.errors:
            pointer = sources.get(str(problem["field"]).split(".")[0])
            where = f" (from {pointer or '/'} in the body)" if sources else ""
            problems.append(problem | {"message": f"{problem['message']}{where}"})
        return InputInvalid(problems)
    return refused.error or ApiError("bad_request", refused.message)


async def _deliver(
    request: Request, pool: AsyncConnectionPool, box: SecretBox, trigger: dict
) -> Response:
    body = await request.body()
    _authenticate(trigger, box, body, request)
    async with pool.connection() as conn:
        wait = await ratelimit.take(
            conn, ratelimit.trigger_deliveries(str(trigger["id"]), trigger["rate_per_minute"])
        )
    if wait:
        raise RateLimited(wait)
    key = _idempotency_key(trigger, request)
    data = json_object(body)
    input, sources = map_body(data, trigger["mapping"])
    async with pool.connection() as conn, conn.transaction():
        template = None
        if trigger["template_id"] is not None:  # its current version, if the owner may still run it
            try:
                template = await choose(
                    conn,
                    user_id=trigger["owner_id"],
                    template_id=trigger["template_id"],
                    space_id=trigger["space_id"],
                )
            except TemplateNotFound:
                raise WorkflowNotFound("The trigger's template is no longer available.") from None
        try:
            outcome = await start_run(
                conn,
                workflow=trigger["workflow"],
                template=template,
                input=input,
                user_id=trigger["owner_id"],
                idempotency_key=key,
                space_id=trigger["space_id"],
            )
        except (Forbidden, RunNotFound):  # the owner left the space, or is a viewer there now
            raise ApiError("forbidden", NO_ACCESS) from None
        if isinstance(outcome, Refused):
            raise _refusal(outcome, sources)
        if outcome.created:
            await store.mark_run(conn, outcome.run_id, trigger)
        status = 202 if outcome.created else 200
        await store.record_delivery(
            conn, trigger["id"], status, run_id=outcome.run_id, replayed=not outcome.created
        )
    return Response(
        {
            "run_id": str(outcome.run_id),
            "status": outcome.run.status,
            "replayed": not outcome.created,
            "trigger": trigger["name"],
        },
        status_code=status,
    )


@post("/hooks/t/{trigger_id:str}", request_max_body_size=MAX_BODY, status_code=202)
async def deliver(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    trigger_id: FromPath[str],
) -> Response:
    async with pool.connection() as conn:
        trigger = await store.trigger_for_delivery(conn, trigger_id)
    if trigger is None:
        raise TriggerNotFound("No trigger has this id (or it is disabled).")
    try:
        return await _deliver(request, pool, SecretBox.from_settings(settings), trigger)
    except Exception as exc:
        # What the sender was answered, for the trigger's page; then the one error mapper answers.
        if not isinstance(
            exc, psycopg.OperationalError
        ):  # with the database away, nothing can be recorded
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            async with pool.connection() as conn:
                await store.record_delivery(conn, trigger["id"], _status_of(exc), message=message)
        raise


router = Router(
    "/", route_handlers=[deliver], exception_handlers=exception_handlers, include_in_schema=False
)
