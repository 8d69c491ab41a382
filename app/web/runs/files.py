"""Downloading a run's files (artifacts). The members of the run's space get them, within that
space (the request's, or an API key's), and so does the member who started the run from any space
(its card in their chat links them); for anyone else they do not exist (404). Writes happen in the run (app/steps/artifacts.py); the list of a run's files is part
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

# A run's file, found within the request's space, or for the member who started the run from any space
# while still a member of the run's (its card in their chat links it; a chat holds runs of several
# spaces, app/web/runs/access.py `find_chat_run`). The first download by its owner is remembered: the
# first-run checklist (app/web/onboarding) ticks "download the PDF".
DOWNLOAD = """
WITH found AS (
    SELECT a.id, a.run_id, a.owner_id, a.name, a.content_type, a.size, a.data
    FROM artifacts a JOIN runs r ON r.id = a.run_id
    WHERE a.id = %(id)s
      AND (r.space_id = %(space_id)s
           OR (r.owner_id = %(user_id)s AND EXISTS (SELECT 1 FROM space_members m
                                                   WHERE m.space_id = r.space_id AND m.user_id = %(user_id)s)))
), first AS (
    UPDATE artifacts a SET first_downloaded_at = now()
    FROM found WHERE a.id = found.id AND found.owner_id = %(user_id)s AND a.first_downloaded_at IS NULL
)
SELECT id, run_id, name, content_type, size, data FROM found
"""


async def get_for_download(
    conn: AsyncConnection, artifact_id: UUID, user_id: int, space_id: int
) -> dict | None:
    """The file, for a member of its run's space `space_id` or the run's starter while still a
    member of its space (anyone else None: answer 404)."""
    return await (
        await conn.execute(DOWNLOAD, {"id": artifact_id, "user_id": user_id, "space_id": space_id})
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
        found = await get_for_download(conn, artifact_id, request.user.id, request.user.space.id)
    if found is None:
        raise NotFoundException()
    return file_response(found)


router = Router(path="/artifacts", guards=[requires_login], route_handlers=[download])
