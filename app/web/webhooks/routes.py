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

import re
from typing import Annotated

from litestar import Request, Response, Router, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from psycopg_pool import AsyncConnectionPool

from app.engine.errors import HookNotFound
from app.engine.hooks import resolve_hook
from app.web.json_errors import ApiError, exception_handlers
from app.web.signed_json import SIGNATURE_HEADER, json_object, signature, signature_valid  # noqa: F401 (signature: for senders and tests)

MAX_BODY = 1024 * 1024
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,100}$")
DECIDED_BY = "webhook"

# A read of the engine's hooks table: only what a delivery must check before resolving.
FIND_HOOK = "SELECT kind, secret FROM hooks WHERE token = %(token)s"


@post("/hooks/{token:str}", request_max_body_size=MAX_BODY, status_code=200)
async def deliver(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    token: FromPath[str],
    action: Annotated[str, Parameter(max_length=50)] = "deliver",
) -> Response:
    if not TOKEN.match(token):
        raise HookNotFound("no such hook")
    async with pool.connection() as conn:
        hook = await (await conn.execute(FIND_HOOK, {"token": token})).fetchone()
    if hook is None or hook["kind"] != "webhook":
        raise HookNotFound("no such hook")
    body = await request.body()
    if hook["secret"] and not signature_valid(
        hook["secret"], body, request.headers.get(SIGNATURE_HEADER)
    ):
        raise ApiError(
            "invalid_signature",
            f"Missing or wrong {SIGNATURE_HEADER} header (sha256=<hex HMAC-SHA256 of the body>).",
        )
    data = json_object(body)
    async with pool.connection() as conn:
        decided = await resolve_hook(conn, token, action, data, decided_by=DECIDED_BY)
    return Response(
        {"status": decided.status, "hook": decided.name, "run_id": str(decided.run_id)},
        status_code=200,
    )


router = Router(
    "/", route_handlers=[deliver], exception_handlers=exception_handlers, include_in_schema=False
)
