"""`/settings/api-keys`: create (the key is shown once, right after), list and revoke API keys.

Plain forms that also work with HTMX: an HTMX request gets the keys section back as a fragment,
a plain one the whole page (create) or a redirect to it (revoke). Signed-in users only; every
form carries the CSRF token (the middleware checks it). Keys are those of the current space: a
key made here acts in it, with its holder's role there; the page says which space.
"""

from __future__ import annotations

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.policy import Action, require
from app.web.auth import api_keys as keys
from app.web.auth import requires_login
from app.web.auth.forms import parse_form
from app.web.htmx import is_htmx
from app.web.settings.notifications import notifications_settings, save_notifications_settings

BODY_LIMIT = 16 * 1024
PAGE = "pages/settings/api_keys.html"
SECTION = "partials/settings/api_keys.html"


class KeyForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=keys.MAX_NAME)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Give the key a name, e.g. where it will be used.")
        if "\x00" in value:
            raise ValueError("The name may not contain NUL characters.")
        return value


async def _render(
    request: Request,
    pool: AsyncConnectionPool,
    *,
    new_key: str | None = None,
    values: dict | None = None,
    errors: dict | None = None,
    status: int = 200,
    page: bool = False,
) -> Template:
    async with pool.connection() as conn:
        rows = await keys.list_keys(conn, request.user.id, space_id=request.user.space.id)
    context = {
        "keys": rows,
        "new_key": new_key,
        "values": values or {},
        "errors": errors or {},
        "space": request.user.space,
    }
    # A page carrying a key that is shown only once must not be cached anywhere.
    headers = {"Cache-Control": "no-store"} if new_key else {}
    return Template(
        SECTION if is_htmx(request) and not page else PAGE,
        context=context,
        status_code=status,
        headers=headers,
    )


@get("/api-keys")
async def api_keys_page(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    return await _render(request, pool, page=True)


@post("/api-keys", request_max_body_size=BODY_LIMIT)
async def create_api_key(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    require(request.user.space, Action.USE_API)
    form = await parse_form(request, KeyForm)
    if form.data is None:
        return await _render(request, pool, values=form.values, errors=form.errors, status=422)
    try:
        async with pool.connection() as conn:
            key, _ = await keys.create_key(
                conn, request.user.id, form.data.name, space_id=request.user.space.id
            )
    except keys.KeyLimitReached as exc:
        return await _render(
            request, pool, values=form.values, errors={"name": str(exc)}, status=422
        )
    return await _render(request, pool, new_key=key)


@post("/api-keys/{key_id:int}/revoke", request_max_body_size=BODY_LIMIT)
async def revoke_api_key(
    request: Request, pool: NamedDependency[AsyncConnectionPool], key_id: FromPath[int]
) -> Response:
    async with pool.connection() as conn:
        if not await keys.revoke_key(conn, request.user.id, key_id, space_id=request.user.space.id):
            raise NotFoundException("No such API key.")
    if not is_htmx(request):
        return Redirect("/settings/api-keys", status_code=303)
    return await _render(request, pool)


router = Router(
    "/settings",
    route_handlers=[
        api_keys_page,
        create_api_key,
        revoke_api_key,
        notifications_settings,
        save_notifications_settings,
    ],
    guards=[requires_login],
)
