"""`POST /hooks/<token>`: an external system (CI, a payment provider, a form) resumes a run that
waits on a webhook hook (`run.hook(name, "webhook", secret=...)`).

No session and no CSRF token: the unguessable token in the URL is the credential. When the hook
has a secret, the body must also be signed: `X-Baton-Signature: sha256=<hex HMAC-SHA256 of the raw
body with the secret>`. Checks run in this order, and none of them changes anything:

    unknown token, or not a webhook hook -> 404      body over 1 MiB       -> 413
    signature missing or wrong           -> 401      not a JSON object     -> 400
                                                     (malformed, or nested over 32 levels)

Then the first delivery resolves the hook (action `deliver`, or `?action=` when the workflow
named its own actions; data = the JSON body) and queues the run -> 200. Any later delivery gets
409 (`already_decided`, `expired`, or `invalid_state` once the run has ended) and changes nothing:
`resolve_hook` decides a hook exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated

from litestar import Request, Response, Router, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from psycopg_pool import AsyncConnectionPool

from app.engine.errors import HookNotFound
from app.engine.hooks import resolve_hook
from app.web.api.errors import ApiError, exception_handlers
from app.web.api.json_body import parse_json
from app.web.api.schemas import storable_json

MAX_BODY = 1024 * 1024
SIGNATURE_HEADER = "X-Baton-Signature"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,100}$")
DECIDED_BY = "webhook"

# A read of the engine's hooks table: only what a delivery must check before resolving.
FIND_HOOK = "SELECT kind, secret FROM hooks WHERE token = %(token)s"


def signature(secret: str, body: bytes) -> str:
    """The header value a sender computes: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(sent.strip().lower().encode(), signature(secret, body).encode())


def json_object(body: bytes) -> dict:
    """The delivered JSON object (read strictly: app/web/api/json_body.py), whatever the
    Content-Type (senders differ: AWS SNS, for one, posts JSON as text/plain)."""
    value = parse_json(body)
    if not isinstance(value, dict):
        raise ApiError("invalid_json", "The body must be a JSON object.")
    try:
        return storable_json(value)
    except ValueError as exc:
        raise ApiError("invalid_json", f"The body cannot be stored: {exc}.") from None


@post("/hooks/{token:str}", request_max_body_size=MAX_BODY, status_code=200)
async def deliver(request: Request, pool: NamedDependency[AsyncConnectionPool], token: FromPath[str],
                  action: Annotated[str, Parameter(max_length=50)] = "deliver") -> Response:
    if not TOKEN.match(token):
        raise HookNotFound("no such hook")
    async with pool.connection() as conn:
        hook = await (await conn.execute(FIND_HOOK, {"token": token})).fetchone()
    if hook is None or hook["kind"] != "webhook":
        raise HookNotFound("no such hook")
    body = await request.body()
    if hook["secret"] and not signature_valid(hook["secret"], body, request.headers.get(SIGNATURE_HEADER)):
        raise ApiError("invalid_signature", f"Missing or wrong {SIGNATURE_HEADER} header "
                                            "(sha256=<hex HMAC-SHA256 of the body>).")
    data = json_object(body)
    async with pool.connection() as conn:
        decided = await resolve_hook(conn, token, action, data, decided_by=DECIDED_BY)
    return Response({"status": decided["status"], "hook": decided["name"], "run_id": str(decided["run_id"])},
                    status_code=200)


router = Router("/", route_handlers=[deliver], exception_handlers=exception_handlers, include_in_schema=False)
