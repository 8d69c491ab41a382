"""Downloading a run's files (artifacts). Only the owner gets them; for anyone else they do not
exist (404). Writes happen in the run (app/steps/artifacts.py); the list of a run's files is part
of the run's views (store.py `run_artifacts`). The browser's download and the API's share
`get_for_download` and `file_response`."""

from __future__ import annotations

import re
from uuid import UUID

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.web.auth import requires_login

# The first download is remembered: the first-run checklist (app/web/onboarding) ticks "download the PDF".
DOWNLOAD = """
WITH first AS (
    UPDATE artifacts SET first_downloaded_at = now()
    WHERE id = %(id)s AND owner_id = %(owner_id)s AND first_downloaded_at IS NULL
)
SELECT id, run_id, name, content_type, size, data FROM artifacts WHERE id = %(id)s AND owner_id = %(owner_id)s
"""


async def get_for_download(conn: AsyncConnection, artifact_id: UUID, owner_id: int) -> dict | None:
    """The file, only for its owner (anyone else gets None: answer 404)."""
    return await (
        await conn.execute(DOWNLOAD, {"id": artifact_id, "owner_id": owner_id})
    ).fetchone()


def header_safe(name: str) -> str:
    """A file name fit for a quoted header value: no quotes, backslashes, control or non-ASCII characters."""
    return re.sub(r"[^A-Za-z0-9._ -]", "_", name)[:150] or "download"


def file_response(found: dict) -> Response:
    """The file as an attachment (the browser's download and the API's)."""
    return Response(
        bytes(found["data"]),
        media_type=found["content_type"],
        headers={
            "Content-Disposition": f'attachment; filename="{header_safe(found["name"])}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@get("/{artifact_id:uuid}")
async def download(
    request: Request, pool: NamedDependency[AsyncConnectionPool], artifact_id: FromPath[UUID]
) -> Response:
    async with pool.connection() as conn:
        found = await get_for_download(conn, artifact_id, request.user.id)
    if found is None:
        raise NotFoundException()
    return file_response(found)


router = Router(path="/artifacts", guards=[requires_login], route_handlers=[download])
