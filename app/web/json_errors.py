"""Every error of the JSON API and the webhooks, in one shape and mapped in one place:

    {"error": {"code": "quota_exceeded", "message": "monthly workflow limit reached (10 on Pro)"}}

Engine errors carry a stable `code` (app/engine/errors.py); `STATUS` turns it into the HTTP status.
A database that cannot be reached is a 503 `unavailable` with `Retry-After`; anything else
unexpected becomes a 500 `server_error` with a safe message (the cause goes to the log).
"""

from __future__ import annotations

import logging
import math

import psycopg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from pydantic import BaseModel

from app.engine.errors import EngineError, InputInvalid
from app.web.errors import FORBIDDEN, NotFound, forbidden_reason

log = logging.getLogger("baton.api")

STATUS = {
    "bad_request": 400,
    "invalid_json": 400,
    "unauthorized": 401,
    "invalid_signature": 401,
    "quota_exceeded": 402,
    "forbidden": 403,
    "not_found": 404,
    "workflow_not_found": 404,
    "method_not_allowed": 405,
    "already_decided": 409,
    "expired": 409,
    "invalid_state": 409,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_input": 422,
    "invalid_action": 422,
    "rate_limited": 429,
    "server_error": 500,
    "unavailable": 503,
}
UNAVAILABLE_RETRY_S = 5
# Codes for errors Litestar raises itself (routing, body size).
CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ApiError(Exception):
    """Raised by API and webhook code for errors that are not the engine's."""

    def __init__(self, code: str, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


class RateLimited(ApiError):
    def __init__(self, wait_s: float):
        seconds = max(1, math.ceil(wait_s))
        super().__init__(
            "rate_limited",
            f"Too many requests; try again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[FieldProblem] | None = None  # invalid_input: every field that was wrong


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(
    code: str,
    message: str,
    *,
    status: int | None = None,
    headers: dict | None = None,
    fields: list[dict] | None = None,
) -> Response:
    detail: dict = {"code": code, "message": message}
    if fields:
        detail["fields"] = fields
    return Response(
        {"error": detail},
        status_code=status or STATUS.get(code, 400),
        headers=headers or {},
        media_type="application/json",
    )


def _validation_fields(exc: ValidationException) -> list[dict]:
    """Litestar's parameter/body errors as [{field, message}] (field as the client named it; an
    empty key is a field too: `{"": 1}` is valid JSON with an unknown field)."""
    found = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict) and "key" in item:
            found.append(
                {"field": str(item["key"]), "message": str(item.get("message", "invalid"))}
            )
    return found


def handle(request: Request, exc: Exception) -> Response:
    """The exception handler of every API and webhook route."""
    if isinstance(exc, InputInvalid):
        return error_response(exc.code, str(exc), fields=exc.errors)
    if isinstance(exc, EngineError):
        return error_response(exc.code, str(exc))
    if isinstance(exc, ApiError):
        return error_response(exc.code, exc.message, headers=exc.headers)
    if isinstance(exc, NotFound):
        return error_response("not_found", str(exc) or "Not found.")
    if isinstance(exc, FORBIDDEN):  # visible, but the key holder's role may not do this
        return error_response("forbidden", forbidden_reason(exc))
    if isinstance(exc, ValidationException):
        fields = _validation_fields(exc)
        if fields:
            first = fields[0]
            return error_response(
                "invalid_input",
                f"{first['field'] or '(empty key)'}: {first['message']}",
                fields=fields,
            )
        # No field named: the body is valid JSON (the API reads it with app/web/json_body.py)
        # but not an object.
        return error_response(
            "invalid_input", "The request body must be a JSON object with this route's fields."
        )
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        code = CODE_OF_STATUS.get(exc.status_code, "bad_request")
        return error_response(code, str(exc.detail), status=exc.status_code, headers=exc.headers)
    if isinstance(
        exc, psycopg.OperationalError
    ):  # the database is down, or the pool timed out (PoolTimeout)
        log.warning(
            "api.unavailable", extra={"path": request.url.path, "error": type(exc).__name__}
        )
        return error_response(
            "unavailable",
            "Baton cannot reach its database right now; try again shortly.",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_S)},
        )
    log.error("api.unhandled", exc_info=exc, extra={"path": request.url.path})
    return error_response("server_error", "Something went wrong on our side.", status=500)


exception_handlers = {Exception: handle, HTTPException: handle, ValidationException: handle}


ALWAYS = (
    400,
    401,
    429,
    500,
    503,
)  # any route: a malformed request, the key, the rate limit, our failures


def documented(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for every error status a route can answer (all with the error body): those
    of every route (ALWAYS) and the route's own."""
    described = {
        400: "Malformed request: `bad_request`, or `invalid_json` for a body that is not JSON",
        401: "Missing, unknown or revoked API key",
        403: "The key holder's role in the key's space may not do this (`forbidden`)",
        402: "Monthly workflow quota exhausted (`quota_exceeded`)",
        404: "Not found (or not yours)",
        409: "Conflict: `already_decided`, `expired` or `invalid_state`",
        413: "Body too large",
        415: "The body is not sent as JSON (`unsupported_media_type`)",
        422: "Invalid input; `fields` names each wrong field",
        429: "Rate limited; see the `Retry-After` header",
        500: "Our failure (`server_error`); the details are in the server log",
        503: "The database cannot be reached (`unavailable`); see the `Retry-After` header",
    }
    # 400 is ours: it replaces the validation-error shape Litestar would document by itself.
    return {
        s: ResponseSpec(ErrorBody, description=described[s], generate_examples=False)
        for s in sorted({*ALWAYS, *statuses})
    }
