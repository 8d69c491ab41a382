"""Dismissing the first-run checklist (it is shown on the new-chat page, app/web/chat/routes.py)."""

from __future__ import annotations

from litestar import Request, Response, Router, post
from litestar.di import NamedDependency
from litestar.response import Redirect
from psycopg_pool import AsyncConnectionPool

from app.web.auth import requires_login
from app.web.htmx import is_htmx
from app.web.onboarding import store


@post("/dismiss")
async def dismiss(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Response:
    async with pool.connection() as conn:
        await store.dismiss(conn, request.user.id)
    if is_htmx(request):
        return Response("", status_code=200)  # the checklist swaps itself out
    return Redirect("/chat", status_code=303)


router = Router(path="/onboarding", guards=[requires_login], route_handlers=[dismiss])
