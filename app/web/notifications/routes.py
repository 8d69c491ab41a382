"""The bell (notifications), the nav's live counts, and the page's live channel (/live)."""

from __future__ import annotations

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from psycopg_pool import AsyncConnectionPool

from app.engine.hooks import waiting_for
from app.web.auth import requires_login
from app.web.live import LiveHub, PresenceBook, provide_hub, provide_presence
from app.web.notifications import store
from app.web.notifications.live import page_events, present_while_streaming


@get("/live", dependencies={"hub": Provide(provide_hub), "book": Provide(provide_presence)})
async def live(
    request: Request,
    hub: NamedDependency[LiveHub],
    book: NamedDependency[PresenceBook],
    page: FromQuery[str] = "/",
) -> Stream:
    resume = bool(request.headers.get("last-event-id"))
    events = page_events(hub, request.user.id, resume=resume, space_id=request.user.space.id)
    return Stream(
        present_while_streaming(book, request.user.id, page, events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _nav(request: Request, pool: AsyncConnectionPool) -> Template:
    async with pool.connection() as conn:
        # What waits for this person's decision in any space: their runs, and what is assigned
        # to them or to their role in a team (the same list as the /approvals inbox).
        waiting = len(await waiting_for(conn, request.user.id, request.user.email))
        unread = await store.unread_count(conn, request.user.id)
        items = await store.recent(conn, request.user.id)
    return Template(
        "partials/notifications/nav.html",
        context={"waiting": waiting, "unread": unread, "items": items},
    )


@get("/notifications/nav")
async def nav(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    """The approvals badge and the bell, swapped into the nav by id (out of band)."""
    return await _nav(request, pool)


@get("/notifications")
async def notifications_page(
    request: Request, pool: NamedDependency[AsyncConnectionPool]
) -> Template:
    async with pool.connection() as conn:
        items = await store.recent(conn, request.user.id, store.PAGE_LIMIT)
        unread = await store.unread_count(conn, request.user.id)
    return Template("pages/notifications.html", context={"items": items, "unread": unread})


@post("/notifications/{notification_id:int}/open")
async def open_notification(
    request: Request, pool: NamedDependency[AsyncConnectionPool], notification_id: FromPath[int]
) -> Response:
    async with pool.connection() as conn:
        url = await store.open_one(conn, notification_id, request.user.id)
    if url is None:
        raise NotFoundException()
    if request.headers.get("hx-request") == "true":
        return Response(None, status_code=200, headers={"HX-Location": url})
    return Redirect(url, status_code=303)


@post("/notifications/read")
async def read_all(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Response:
    async with pool.connection() as conn:
        await store.read_all(conn, request.user.id)
    if request.headers.get("hx-request") == "true":
        return await _nav(request, pool)
    return Redirect("/notifications", status_code=303)


router = Router(
    path="/",
    guards=[requires_login],
    route_handlers=[live, nav, notifications_page, open_notification, read_all],
)
