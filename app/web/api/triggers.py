"""The JSON API's triggers (`/api/v1/triggers`): list, create (the secret is in the answer, once),
read, enable, disable, rotate the secret, delete. Deliveries themselves go to `POST /hooks/t/{id}`
(app/web/triggers/deliver.py, docs/triggers.md); they take the trigger's secret, not an API key."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from app.core.config import Settings
from app.core.policy import Action, require
from app.core.secrets_box import SecretBox
from app.engine.errors import InputInvalid
from app.triggers import store
from app.triggers.mapping import check_mapping
from app.triggers.targets import Target, input_fields, template_target, workflow_target
from app.web.api.schemas import _Body
from app.web.errors import NotFound
from app.web.json_errors import ApiError, documented

PATH = "/hooks/t/"


class TriggerNotFound(NotFound):
    pass


class NewTrigger(_Body):
    name: str = Field(min_length=1, max_length=store.MAX_NAME)
    workflow: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description=("What the trigger starts: a name from `GET /api/v1/workflows`, or else"),
    )
    template_id: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description=(
            "a template you may run (yours, shared with you, the gallery's): its current version at each delivery."
        ),
    )
    mapping: dict[str, str] | None = Field(
        default=None,
        description=(
            'Input field -> JSON pointer (RFC 6901) into the delivered body, e.g. `{"topic": "/post/title"}`. '
            "Omitted or null: the body is passed through as the input."
        ),
    )
    auth_mode: Literal["hmac", "bearer"] = Field(
        default="hmac",
        description=(
            "`hmac`: deliveries carry `X-Baton-Signature: sha256=<hex HMAC-SHA256 of the body>`; "
            "`bearer`: `Authorization: Bearer <secret>`."
        ),
    )
    rate_per_minute: int = Field(
        default=store.DEFAULT_RATE, ge=1, le=6000, description="Deliveries a minute, at most."
    )


class RotateSecret(_Body):
    auth_mode: Literal["hmac", "bearer"] | None = Field(
        default=None, description="Switch the mode too (default: keep it)."
    )


class TriggerOut(BaseModel):
    id: UUID
    name: str
    workflow: str | None
    template_id: int | None
    mapping: dict[str, str] | None
    auth_mode: Literal["hmac", "bearer"]
    secret_hint: str = Field(description="The secret's first characters, to tell secrets apart.")
    enabled: bool
    rate_per_minute: int
    url: str = Field(description="Where to POST deliveries.")
    created_at: datetime
    updated_at: datetime


class TriggerWithSecret(TriggerOut):
    secret: str = Field(
        description="The signing secret or bearer token: shown in this answer only."
    )


class TriggerList(BaseModel):
    triggers: list[TriggerOut]


def _out(row: dict, settings: Settings, secret: str | None = None) -> dict:
    keys = (
        "id",
        "name",
        "workflow",
        "template_id",
        "mapping",
        "auth_mode",
        "secret_hint",
        "enabled",
        "rate_per_minute",
        "created_at",
        "updated_at",
    )
    view = {k: row[k] for k in keys} | {
        "url": settings.base_url.rstrip("/") + PATH + str(row["id"])
    }
    return view | ({"secret": secret} if secret else {})


def _sid(request: Request) -> int:
    """The key's space: triggers are those of the space the key acts in."""
    return request.user.space.id


async def _found(conn: AsyncConnection, request: Request, trigger_id: str) -> dict:
    """A trigger of the key's space (else 404) the key's role may change (else 403)."""
    row = await store.get_trigger(conn, trigger_id, request.user.id, space_id=_sid(request))
    if row is None:
        raise TriggerNotFound("No trigger of yours has this id.")
    require(request.user.space, Action.EDIT)
    return row


async def _target(
    conn: AsyncConnection, user_id: int, data: NewTrigger, space_id: int | None = None
) -> Target:
    """The body's target, checked with its mapping (InputInvalid by field otherwise)."""
    if (data.workflow is None) == (data.template_id is None):
        raise InputInvalid(
            [{"field": "workflow", "message": "give either `workflow` or `template_id`"}]
        )
    if data.workflow is not None:
        target, field = workflow_target(data.workflow), "workflow"
    else:
        target = await template_target(conn, user_id, data.template_id, space_id)
        field = "template_id"
    if target is None:
        raise InputInvalid(
            [{"field": field, "message": "nothing of yours to start has this name or id"}]
        )
    if data.mapping is not None:
        problems = check_mapping(data.mapping, [f.name for f in input_fields(target.input_model)])
        if problems:
            raise InputInvalid(
                [{"field": f"mapping.{k}", "message": v} for k, v in problems.items()]
            )
    return target


@get("/triggers", tags=["triggers"], responses=documented())
async def list_triggers(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> TriggerList:
    """Your triggers, newest first."""
    async with pool.connection() as conn:
        rows = await store.list_triggers(conn, request.user.id, space_id=_sid(request))
    return TriggerList.model_validate({"triggers": [_out(r, settings) for r in rows]})


@post(
    "/triggers", tags=["triggers"], status_code=201, responses=documented(403, 409, 413, 415, 422)
)
async def create_trigger(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    data: JSONBody[NewTrigger],
) -> TriggerWithSecret:
    """Make a trigger. The answer carries its secret, once; Baton keeps only what checks it."""
    require(request.user.space, Action.EDIT)
    try:
        async with pool.connection() as conn:
            target = await _target(conn, request.user.id, data, _sid(request))
            row, secret = await store.create_trigger(
                conn,
                request.user.id,
                SecretBox.from_settings(settings),
                name=" ".join(data.name.split()) or "Trigger",
                workflow=target.workflow,
                template_id=target.template_id,
                mapping=data.mapping,
                auth_mode=data.auth_mode,
                rate_per_minute=data.rate_per_minute,
                space_id=_sid(request),
            )
    except store.TriggerLimitReached as exc:
        raise ApiError("invalid_state", str(exc)) from None
    return TriggerWithSecret.model_validate(_out(row, settings, secret))


@get("/triggers/{trigger_id:str}", tags=["triggers"], responses=documented(404))
async def get_trigger(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    trigger_id: FromPath[str],
) -> TriggerOut:
    """One of your triggers."""
    async with pool.connection() as conn:
        row = await store.get_trigger(conn, trigger_id, request.user.id, space_id=_sid(request))
    if row is None:
        raise TriggerNotFound("No trigger of yours has this id.")
    return TriggerOut.model_validate(_out(row, settings))


async def _switch(
    request: Request, pool: AsyncConnectionPool, settings: Settings, trigger_id: str, enabled: bool
) -> TriggerOut:
    async with pool.connection() as conn:
        await _found(conn, request, trigger_id)
        row = await store.set_enabled(
            conn, trigger_id, request.user.id, enabled, space_id=_sid(request)
        )
    if row is None:
        raise TriggerNotFound("No trigger of yours has this id.")
    return TriggerOut.model_validate(_out(row, settings))


@post(
    "/triggers/{trigger_id:str}/enable",
    tags=["triggers"],
    status_code=200,
    responses=documented(403, 404),
)
async def enable_trigger(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    trigger_id: FromPath[str],
) -> TriggerOut:
    """Deliveries start runs again."""
    return await _switch(request, pool, settings, trigger_id, True)


@post(
    "/triggers/{trigger_id:str}/disable",
    tags=["triggers"],
    status_code=200,
    responses=documented(403, 404),
)
async def disable_trigger(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    trigger_id: FromPath[str],
) -> TriggerOut:
    """Deliveries get 404 and start nothing until the trigger is enabled again."""
    return await _switch(request, pool, settings, trigger_id, False)


@post(
    "/triggers/{trigger_id:str}/rotate",
    tags=["triggers"],
    status_code=200,
    responses=documented(403, 404, 413, 415, 422),
)
async def rotate_trigger_secret(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    trigger_id: FromPath[str],
    data: JSONBody[RotateSecret],
) -> TriggerWithSecret:
    """A new secret (in this answer only); the old one stops working at once."""
    async with pool.connection() as conn:
        row = await _found(conn, request, trigger_id)
        rotated = row and await store.rotate_secret(
            conn,
            row["id"],
            request.user.id,
            SecretBox.from_settings(settings),
            data.auth_mode or row["auth_mode"],
            space_id=_sid(request),
        )
    if not rotated:
        raise TriggerNotFound("No trigger of yours has this id.")
    return TriggerWithSecret.model_validate(_out(rotated[0], settings, rotated[1]))


@delete(
    "/triggers/{trigger_id:str}", tags=["triggers"], status_code=204, responses=documented(403, 404)
)
async def delete_trigger(
    request: Request, pool: NamedDependency[AsyncConnectionPool], trigger_id: FromPath[str]
) -> None:
    """Delete a trigger and its deliveries; deliveries to it get 404. Its runs keep its name."""
    async with pool.connection() as conn:
        await _found(conn, request, trigger_id)
        if not await store.delete_trigger(
            conn, trigger_id, request.user.id, space_id=_sid(request)
        ):
            raise TriggerNotFound("No trigger of yours has this id.")


routes = [
    list_triggers,
    create_trigger,
    get_trigger,
    enable_trigger,
    disable_trigger,
    rotate_trigger_secret,
    delete_trigger,
]
