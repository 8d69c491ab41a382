"""The JSON API's workflow templates: list, read, create, save a version, history, export, import, run.
The document's JSON Schema is `Template` in the OpenAPI components (the `document` of a template's
detail); a document that does not validate is `422 invalid_input` with one `fields` entry per problem,
its `field` the document path (`blocks.3.prompt`). Another user's private template is `404`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from app.core.policy import Action, require
from app.engine import commands
from app.engine.errors import InputInvalid
from app.templates import store
from app.templates.format import Template, parse
from app.templates.start import choose
from app.web.api.schemas import RunDetail, run_view
from app.web.json_errors import ApiError, documented
from app.web.runs.start import Refused, start_run

# A path slug that cannot be one (bad characters, too long) names no template: 404, like any other miss.
SLUG = str


class TemplateOut(BaseModel):
    slug: str
    title: str
    category: str
    visibility: Literal["private", "link", "gallery"]
    version: int = Field(description="The current version (new runs take it).")
    owner: str | None = Field(description="The owner's e-mail; null for the instance's starters.")
    mine: bool
    updated_at: datetime


class TemplateList(BaseModel):
    mine: list[TemplateOut]
    shared: list[TemplateOut] = Field(description="Shared with you by a link you opened.")
    gallery: list[TemplateOut] = Field(
        description="This instance's gallery (starters and published templates)."
    )


class TemplateDetail(TemplateOut):
    document: Template = Field(description="The current version's document.")


class VersionOut(BaseModel):
    version: int
    created_at: datetime
    created_by: str | None


class VersionList(BaseModel):
    versions: list[VersionOut]


class SaveTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: dict[str, Any] = Field(description="A template document (schema: `Template`).")
    slug: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,59}$",
        description="New templates only; default: from the title.",
    )


class RunTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any] = Field(default_factory=dict, description="The template's inputs.")
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)


def _sid(request: Request) -> int:
    """The key's space: templates are those of the space the key acts in."""
    return request.user.space.id


def _out(row: dict, space_id: int) -> dict:
    return {
        "slug": row["slug"],
        "title": row["title"],
        "category": row["category"],
        "visibility": row["visibility"],
        "version": row["current_version"],
        "owner": row.get("owner_email"),
        "mine": row["space_id"] == space_id,
        "updated_at": row["updated_at"],
    }


def _invalid(exc: store.TemplateInvalid) -> InputInvalid:
    return InputInvalid(
        [{"field": p.path or "document", "message": p.message} for p in exc.problems]
    )


async def _visible(conn, request: Request, slug: str) -> dict:
    if not store.SLUG.match(slug):
        raise ApiError("not_found", "No template of yours (or shared with you) has this slug.")
    try:
        return await store.get_template(
            conn, user_id=request.user.id, slug=slug, space_id=_sid(request)
        )
    except store.TemplateNotFound:
        raise ApiError(
            "not_found", "No template of yours (or shared with you) has this slug."
        ) from None


async def _detail(conn, row: dict, space_id: int) -> TemplateDetail:
    document = await store.get_document(conn, row)
    return TemplateDetail.model_validate({**_out(row, space_id), "document": parse(document)})


@get("/templates", tags=["templates"], responses=documented())
async def list_templates(
    request: Request, pool: NamedDependency[AsyncConnectionPool]
) -> TemplateList:
    """The key's space's templates ("mine"), those shared with you, and the gallery."""
    uid, sid = request.user.id, _sid(request)
    async with pool.connection() as conn:
        groups = await store.list_templates(conn, user_id=uid, space_id=sid)
    return TemplateList.model_validate({k: [_out(r, sid) for r in v] for k, v in groups.items()})


@get("/templates/{slug:str}", tags=["templates"], responses=documented(404))
async def get_template(
    request: Request, pool: NamedDependency[AsyncConnectionPool], slug: FromPath[SLUG]
) -> TemplateDetail:
    """A template with its current document."""
    async with pool.connection() as conn:
        return await _detail(conn, await _visible(conn, request, slug), _sid(request))


@post("/templates", tags=["templates"], status_code=201, responses=documented(403, 413, 415, 422))
async def create_template(
    request: Request, pool: NamedDependency[AsyncConnectionPool], data: JSONBody[SaveTemplate]
) -> TemplateDetail:
    """Create a template (version 1) from a document in the key's space; also how an exported
    document is imported."""
    require(request.user.space, Action.EDIT)
    sid = _sid(request)
    async with pool.connection() as conn:
        try:
            row = await store.import_document(
                conn, user_id=request.user.id, document=data.document, slug=data.slug, space_id=sid
            )
        except store.TemplateInvalid as exc:
            raise _invalid(exc) from None
        row = await store.get_template(
            conn, user_id=request.user.id, template_id=row["id"], space_id=sid
        )
        return await _detail(conn, row, sid)


@post(
    "/templates/{slug:str}/versions",
    tags=["templates"],
    status_code=201,
    responses=documented(403, 404, 413, 415, 422),
)
async def save_version(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    slug: FromPath[SLUG],
    data: JSONBody[SaveTemplate],
) -> TemplateDetail:
    """Save a new version of a template of the key's space; runs in flight keep the version they
    started with."""
    uid, sid = request.user.id, _sid(request)
    async with pool.connection() as conn:
        row = await _visible(conn, request, slug)
        if row["space_id"] == sid:
            require(request.user.space, Action.EDIT)
        try:
            await store.save_version(
                conn, user_id=uid, template_id=row["id"], document=data.document, space_id=sid
            )
        except store.TemplateInvalid as exc:
            raise _invalid(exc) from None
        except store.TemplateNotFound:
            raise ApiError("not_found", "No template of yours has this slug.") from None
        return await _detail(
            conn,
            await store.get_template(conn, user_id=uid, template_id=row["id"], space_id=sid),
            sid,
        )


@get("/templates/{slug:str}/versions", tags=["templates"], responses=documented(404))
async def list_versions(
    request: Request, pool: NamedDependency[AsyncConnectionPool], slug: FromPath[SLUG]
) -> VersionList:
    """The template's versions, newest first."""
    async with pool.connection() as conn:
        row = await _visible(conn, request, slug)
        return VersionList(
            versions=[
                VersionOut.model_validate(v)
                for v in await store.list_versions(
                    conn, user_id=request.user.id, template_id=row["id"], space_id=_sid(request)
                )
            ]
        )


@get("/templates/{slug:str}/export", tags=["templates"], responses=documented(404))
async def export_template(
    request: Request, pool: NamedDependency[AsyncConnectionPool], slug: FromPath[SLUG]
) -> dict[str, Any]:
    """The current document as a file to import elsewhere: webhook keys and e-mail addresses removed."""
    async with pool.connection() as conn:
        row = await _visible(conn, request, slug)
        return store.strip_private(await store.get_document(conn, row))


@post(
    "/templates/{slug:str}/runs",
    tags=["templates"],
    status_code=201,
    responses={
        200: ResponseSpec(
            RunDetail,
            description="The earlier run of the same `idempotency_key`",
            generate_examples=False,
        ),
        **documented(402, 403, 404, 413, 415, 422),
    },
)
async def run_template(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    slug: FromPath[SLUG],
    data: JSONBody[RunTemplate],
) -> Response[RunDetail]:
    """Start a run of the template's current version (`201`; `200` with the earlier run of the same
    `idempotency_key`). The run is then followed like any other under `/api/v1/runs`."""
    uid = request.user.id
    async with pool.connection() as conn:
        try:
            chosen = (
                await choose(conn, user_id=uid, slug=slug, space_id=_sid(request))
                if store.SLUG.match(slug)
                else None
            )
        except store.TemplateNotFound:
            chosen = None
        if chosen is None:
            raise ApiError("not_found", "No template of yours (or shared with you) has this slug.")
        require(request.user.space, Action.START)
        outcome = await start_run(
            conn,
            template=chosen,
            input=data.input,
            user_id=uid,
            idempotency_key=data.idempotency_key,
        )
        if isinstance(outcome, Refused):
            if isinstance(outcome.error, InputInvalid):
                raise InputInvalid(
                    [e | {"field": f"input.{e['field']}"} for e in outcome.error.errors]
                )
            raise outcome.error
        run = run_view(await commands.get_run(conn, outcome.run_id, owner_id=uid))
    return Response(
        RunDetail.model_validate({**run, "files": []}), status_code=201 if outcome.created else 200
    )


HANDLERS = [
    list_templates,
    create_template,
    get_template,
    save_version,
    list_versions,
    export_template,
    run_template,
]
