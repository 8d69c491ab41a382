"""Renaming a run: its owner retitles it from the run page (a small form, HTMX or plain). The new
title is announced on the owner's live channel, so the run page, its chat card and the dashboard
re-read it. Another user's run is a 404."""

from __future__ import annotations

from uuid import UUID

from litestar import Request, Response, Router, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core.policy import Action
from app.core.titles import RUN_TITLE_MAX
from app.engine.errors import RunNotFound
from app.web.auth import requires_login
from app.web.htmx import is_htmx
from app.web.live import publish
from app.web.runs.access import find_run

RENAME_RUN = """
UPDATE runs SET title = %(title)s WHERE id = %(id)s AND space_id = %(space_id)s
RETURNING id, title, owner_id
"""


def clean_title(text: str) -> tuple[str | None, str | None]:
    """The title as it will be stored (one line, single spaces), or why it cannot be."""
    title = " ".join(text.split())
    if not title:
        return None, "Write a title."
    if len(title) > RUN_TITLE_MAX:
        return None, f"At most {RUN_TITLE_MAX} characters ({len(title)} written)."
    return title, None


@post("/{run_id:uuid}/title")
async def rename_run(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Response:
    form = await request.form()
    typed = form.get("title")
    title, error = clean_title(typed if isinstance(typed, str) else "")
    space = request.user.space
    async with pool.connection() as conn, conn.transaction():
        # Another space's run is a 404; a viewer of this one gets a 403 (app/web/errors.py).
        found = await find_run(conn, request, run_id, Action.OPERATE)
        run = {"id": found.id, "title": found.title, "owner_id": found.owner_id}
        if not error:
            run = await (
                await conn.execute(RENAME_RUN, {"id": run_id, "space_id": space.id, "title": title})
            ).fetchone()
            if run:
                await publish(
                    conn, run["owner_id"], "run.renamed", run_id=str(run_id), space_id=space.id
                )
    if run is None:
        raise RunNotFound("no such run")
    if not is_htmx(request) and error is None:
        return Redirect(f"/workflows/{run_id}", status_code=303)
    context = {
        "run": {**run, "title": typed if error else run["title"]},
        "rename_error": error,
        "renamed": not error,
    }
    # An HTMX swap shows the message in place (a 4xx would not be swapped); a plain form gets a 422 page.
    return Template(
        "partials/runs/rename.html" if is_htmx(request) else "pages/runs/rename.html",
        context=context,
        status_code=422 if error and not is_htmx(request) else 200,
    )


router = Router(path="/workflows", guards=[requires_login], route_handlers=[rename_run])
