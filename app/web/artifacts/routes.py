"""Downloading a run's files. Only the owner gets them; for anyone else they do not exist (404)."""

from __future__ import annotations

import re
from uuid import UUID

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from psycopg_pool import AsyncConnectionPool

from app.web.artifacts import store
from app.web.auth import requires_login


def header_safe(name: str) -> str:
    """A file name fit for a quoted header value: no quotes, backslashes, control or non-ASCII characters."""
    return re.sub(r"[^A-Za-z0-9._ -]", "_", name)[:150] or "download"


def file_response(found: dict) -> Response:
    """The file as an attachment (the browser's download and the API's)."""
    return Response(bytes(found["data"]), media_type=found["content_type"], headers={
        "Content-Disposition": f'attachment; filename="{header_safe(found["name"])}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    })


@get("/{artifact_id:uuid}")
async def download(request: Request, pool: NamedDependency[AsyncConnectionPool], artifact_id: FromPath[UUID]) -> Response:
    async with pool.connection() as conn:
        found = await store.get_for_download(conn, artifact_id, request.user.id)
    if found is None:
        raise NotFoundException()
    return file_response(found)


router = Router(path="/artifacts", guards=[requires_login], route_handlers=[download])
