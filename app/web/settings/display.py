"""How pages look for a person: their time zone (`/settings/display`) and colour theme (`POST /theme`).

The time zone is taken from the browser at sign-up and can be changed here; every date on pages and
in e-mails is shown in it (app/core/local_time.py). The theme is light, dark or the system's
setting: saved on the account when signed in, in a cookie otherwise (the sign-in pages have a switch
too). Plain forms with CSRF tokens; an HTMX request gets the section back as a fragment.
"""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, field_validator

from app.core import local_time
from app.core.config import Settings
from app.web.auth import requires_login
from app.web.auth.forms import parse_form
from app.web.auth.guards import safe_next
from app.web.htmx import is_htmx

BODY_LIMIT = 8 * 1024
PAGE = "pages/settings/display.html"
SECTION = "partials/settings/display.html"
THEME_COOKIE = "baton_theme"
THEMES = ("light", "dark", "system")

SET_TIME_ZONE = "UPDATE users SET time_zone = %(time_zone)s WHERE id = %(id)s"
SET_THEME = "UPDATE users SET theme = %(theme)s WHERE id = %(id)s"


class TimeZoneForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    time_zone: str = ""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str | None:
        try:
            return local_time.parse_zone(value)
        except local_time.BadTimeZone as exc:
            raise ValueError(str(exc)) from None


def _render(
    request: Request,
    *,
    time_zone: str | None,
    values: dict | None = None,
    errors: dict | None = None,
    saved: bool = False,
    status: int = 200,
) -> Template:
    context = {
        "time_zone": time_zone,
        "zones": local_time.zone_names(),
        "theme": request.user.theme,
        "values": values or {"time_zone": time_zone or ""},
        "errors": errors or {},
        "saved": saved,
        "now": datetime.now(UTC),
    }
    return Template(SECTION if is_htmx(request) else PAGE, context=context, status_code=status)


@get("/display")
async def display_page(request: Request) -> Template:
    return _render(request, time_zone=request.user.time_zone)


@post("/display", request_max_body_size=BODY_LIMIT)
async def save_time_zone(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    form = await parse_form(request, TimeZoneForm)
    if form.data is None:
        return _render(
            request,
            time_zone=request.user.time_zone,
            values=form.values,
            errors=form.errors,
            status=422,
        )
    async with pool.connection() as conn:
        await conn.execute(SET_TIME_ZONE, {"time_zone": form.data.time_zone, "id": request.user.id})
    return _render(request, time_zone=form.data.time_zone, saved=True)


@post("/theme", request_max_body_size=BODY_LIMIT)
async def choose_theme(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Response:
    """Anyone, signed in or not: a theme that is not one of the three is a clear 400."""
    form = await request.form()
    theme = form.get("theme")
    if theme not in THEMES:
        return Response("Choose light, dark or system.", status_code=400, media_type="text/plain")
    chosen = None if theme == "system" else theme
    if request.user:
        async with pool.connection() as conn:
            await conn.execute(SET_THEME, {"theme": chosen, "id": request.user.id})
    # The cookie too: the sign-in pages after a log-out keep the same look.
    cookie = Cookie(
        key=THEME_COOKIE,
        value=chosen or "",
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
        max_age=365 * 86400 if chosen else 0,
    )
    return Redirect(safe_next(form.get("next")), status_code=303, cookies=[cookie])


router = Router("/settings", route_handlers=[display_page, save_time_zone], guards=[requires_login])
theme_router = Router("/", route_handlers=[choose_theme])
