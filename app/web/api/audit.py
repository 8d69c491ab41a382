"""`GET /api/v1/audit`: the audit log of the key's space, for its admins and owners (a personal
space's owner reads their own), newest first, with the page's filters and keyset paging."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, Parameter
from psycopg_pool import AsyncConnectionPool
from pydantic import AwareDatetime, BaseModel

from app.core import audit
from app.core.policy import Action
from app.engine.errors import InputInvalid
from app.web.json_errors import ApiError, ErrorBody, documented

FORBIDDEN = ResponseSpec(
    ErrorBody,
    description="The key's role may not read the log (`forbidden`)",
    generate_examples=False,
)


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str | None  # the actor's e-mail address; None: the system (a schedule, a recovery)
    action: str
    object_kind: str
    object_id: str
    detail: dict[str, Any]


class AuditList(BaseModel):
    entries: list[AuditEntry]
    next_cursor: str | None


@get("/audit", tags=["audit"], responses={**documented(422), 403: FORBIDDEN})
async def list_audit(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    action: Annotated[
        str | None,
        Parameter(max_length=81, description="An action (`run.start`) or a kind (`run`)."),
    ] = None,
    actor: Annotated[str | None, Parameter(max_length=254, description="An e-mail.")] = None,
    since: FromQuery[AwareDatetime | None] = None,
    until: FromQuery[AwareDatetime | None] = None,
    cursor: Annotated[str | None, Parameter(max_length=200)] = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
) -> AuditList:
    """The audit log of the key's space (admins and owners of a team): who started, cancelled,
    retried or decided runs and changed templates, schedules, triggers, connectors and members.
    `since` ≤ entry time < `until`. Pass `next_cursor` back as `cursor` for older entries."""
    space = request.user.space
    if space is None or not space.allows(Action.AUDIT):
        raise ApiError("forbidden", "Only the team's admins and owners can read its audit log.")
    if action and not audit.ACTION_FILTER.fullmatch(action):
        raise InputInvalid(
            [{"field": "action", "message": "an action (run.start) or a kind (run)"}]
        )
    flt = audit.Filter(action=action, actor=actor, since=since, until=until)
    async with pool.connection() as conn:
        try:
            rows, next_cursor = await audit.entries(conn, space.id, flt, cursor=cursor, limit=limit)
        except audit.BadCursor:
            raise InputInvalid(
                [{"field": "cursor", "message": "not a cursor from this API"}]
            ) from None
    return AuditList(
        entries=[AuditEntry.model_validate(r | {"actor": r["actor_email"] or None}) for r in rows],
        next_cursor=next_cursor,
    )
