"""The first-run checklist: the new-chat page fetches it (templates/pages/chat/index.html); dismissing it."""

from __future__ import annotations

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core.config import Settings
from app.web.auth import requires_login
from app.web.htmx import is_htmx
from app.web.onboarding import store


@get("/checklist")
async def checklist(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Response:
    """The checklist as a fragment, or nothing once it was dismissed."""
    async with pool.connection() as conn:
        items = await store.checklist_for(conn, request.user, settings)
    if items is None:
        return Response("", media_type="text/html")
    return Template("partials/onboarding/checklist.html", context={"checklist": items})


@post("/dismiss")
async def dismiss(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Response:
    async with pool.connection() as conn:
        await store.dismiss(conn, request.user.id)
    if is_htmx(request):
        return Response("", status_code=200)  # the checklist swaps itself out
    return Redirect("/chat", status_code=303)


router = Router(path="/onboarding", guards=[requires_login], route_handlers=[checklist, dismiss])
