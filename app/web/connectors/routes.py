"""`/settings/connectors`: add (a webhook's generated signing secret is shown once), list, check
(is the receiver there and does it take our secret: a status code, never its words) and delete
publishing connectors. Secrets are encrypted before they are stored and never shown again.

Plain forms that also work with HTMX (an HTMX request gets the section back as a fragment, a plain
one the whole page or a redirect). Signed-in users only; CSRF on every form (the middleware checks
it); another space's connector is a 404. A team's connectors are listed to its members (who use
them in runs) and added, checked and deleted by its admins only (Action.CONNECTORS; else 403). An address that resolves to an internal one is refused
here already, so the user hears of it now rather than at the first post (every send checks again:
app/core/outbound.py).
"""

from __future__ import annotations

import asyncio

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core import outbound
from app.core.config import Settings
from app.core.policy import Action, require
from app.core.secrets_box import SecretBox, SecretUnreadable
from app.steps.publishers import clients, connectors
from app.web.auth import requires_login
from app.web.auth.forms import parse_form
from app.web.htmx import is_htmx

BODY_LIMIT = 16 * 1024
PAGE = "pages/settings/connectors.html"
SECTION = "partials/connectors/section.html"
LOOKUP_WAIT_S = 5.0


async def _render(
    request: Request,
    pool: AsyncConnectionPool,
    *,
    created: dict | None = None,
    secret: str | None = None,
    values: dict | None = None,
    errors: dict | None = None,
    checked: dict | None = None,
    status: int = 200,
) -> Template:
    async with pool.connection() as conn:
        rows = await connectors.list_connectors(conn, request.user.id, space_id=_sid(request))
    context = {
        "space": request.user.space,
        "may_change": request.user.space.allows(Action.CONNECTORS),
        "connectors": rows,
        "kinds": connectors.KINDS,
        "created": created,
        "new_secret": secret,
        "values": values or {"kind": "webhook"},
        "errors": errors or {},
        "checked": checked,
    }
    headers = {"Cache-Control": "no-store"} if secret else {}
    return Template(
        SECTION if is_htmx(request) else PAGE, context=context, status_code=status, headers=headers
    )


def _sid(request: Request) -> int:
    return request.user.space.id


async def _refused(url: str, settings: Settings) -> str | None:
    """Why users may not reach `url` (None: they may, or it does not resolve yet: a name can be set
    up after its connector, and every send checks it again)."""
    try:
        await asyncio.wait_for(outbound.resolve_url(url, settings.connector_allow), LOOKUP_WAIT_S)
    except outbound.AddressRefused as exc:
        return str(exc)
    except (outbound.HostNotFound, TimeoutError):
        pass
    return None


@get("/")
async def connectors_page(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    return await _render(request, pool)


@post("/", request_max_body_size=BODY_LIMIT)
async def add_connector(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Template:
    require(request.user.space, Action.CONNECTORS)
    form = await parse_form(request, connectors.ConnectorForm)
    if form.data is None:
        return await _render(request, pool, values=form.values, errors=form.errors, status=422)
    if refused := await _refused(form.data.url, settings):
        return await _render(request, pool, values=form.values, errors={"url": refused}, status=422)
    try:
        async with pool.connection() as conn:
            row, secret = await connectors.create_connector(
                conn,
                SecretBox.from_settings(settings),
                request.user.id,
                form.data,
                space_id=_sid(request),
            )
    except connectors.ConnectorLimit as exc:
        return await _render(
            request, pool, values=form.values, errors={"form": str(exc)}, status=422
        )
    except ValueError as exc:
        return await _render(
            request, pool, values=form.values, errors={"secret": str(exc)}, status=422
        )
    if row is None:
        return await _render(
            request,
            pool,
            values=form.values,
            status=422,
            errors={"name": "You already have a connector with this name."},
        )
    return await _render(request, pool, created=row, secret=secret)


@post("/{connector_id:int}/check", request_max_body_size=BODY_LIMIT)
async def check_connector(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    connector_id: FromPath[int],
) -> Template:
    async with pool.connection() as conn:
        try:
            connector = await connectors.load_connector(
                conn,
                SecretBox.from_settings(settings),
                request.user.id,
                connector_id,
                space_id=_sid(request),
            )
        except SecretUnreadable as exc:  # the instance's secret key changed since it was saved
            require(request.user.space, Action.CONNECTORS)
            return await _render(
                request, pool, checked={"id": connector_id, "ok": False, "message": str(exc)}
            )
    if connector is None:
        raise NotFoundException("No such connector.")
    require(request.user.space, Action.CONNECTORS)
    result = await clients.check_reachable(connector, settings.connector_allow)
    return await _render(
        request, pool, checked={"id": connector.id, "ok": result.ok, "message": result.message}
    )


@post("/{connector_id:int}/delete", request_max_body_size=BODY_LIMIT)
async def delete_connector(
    request: Request, pool: NamedDependency[AsyncConnectionPool], connector_id: FromPath[int]
) -> Response:
    async with pool.connection() as conn:
        found = await connectors.find_connector(
            conn, request.user.id, str(connector_id), space_id=_sid(request)
        )
        if found is None or found["id"] != connector_id:
            raise NotFoundException("No such connector.")
        require(request.user.space, Action.CONNECTORS)
        if not await connectors.delete_connector(
            conn, request.user.id, connector_id, space_id=_sid(request)
        ):
            raise NotFoundException("No such connector.")
    if not is_htmx(request):
        return Redirect("/settings/connectors", status_code=303)
    return await _render(request, pool)


router = Router(
    "/settings/connectors",
    route_handlers=[connectors_page, add_connector, check_connector, delete_connector],
    guards=[requires_login],
)
