"""`/settings/notifications`: per kind of notice, e-mail (each time / daily digest / never) and the
in-app bell, plus the time zone the daily digest follows. A plain form that also works with HTMX
(an HTMX save gets the form back with "Saved", a plain one a redirect to the page); CSRF-checked
by the middleware like every form.
"""

from __future__ import annotations

from typing import Literal

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.notify_prefs import (
    EMAIL_CHOICES,
    KINDS,
    Pref,
    prefs_for,
    save_prefs,
    set_time_zone,
    time_zone_of,
    time_zones,
    valid_time_zone,
)
from app.web.auth.forms import parse_form
from app.web.htmx import is_htmx

BODY_LIMIT = 16 * 1024
PAGE = "pages/settings/notifications.html"
SECTION = "partials/settings/notifications.html"

Email = Literal["each", "digest", "off"]


class NotificationsForm(BaseModel):
    """One `email_<kind>` select and one `in_app_<kind>` checkbox per kind (an unticked box is not
    sent, hence the False defaults), and the time zone."""
    model_config = ConfigDict(extra="ignore")
    email_review_needed: Email
    email_reminder: Email
    email_run_finished: Email
    email_run_failed: Email
    in_app_review_needed: bool = False
    in_app_reminder: bool = False
    in_app_run_finished: bool = False
    in_app_run_failed: bool = False
    time_zone: str = Field(default="", max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        value = value.strip()
        if value and not valid_time_zone(value):
            raise ValueError("Unknown time zone: pick one from the list, e.g. Europe/Berlin (or leave it empty for UTC).")
        return value

    def prefs(self) -> dict[str, Pref]:
        return {kind: Pref(getattr(self, f"email_{kind}"), getattr(self, f"in_app_{kind}")) for kind in KINDS}


def _values(prefs: dict[str, Pref], time_zone: str | None) -> dict[str, str]:
    values = {f"email_{kind}": pref.email for kind, pref in prefs.items()}
    values |= {f"in_app_{kind}": "on" for kind, pref in prefs.items() if pref.in_app}
    return values | {"time_zone": time_zone or ""}


async def _render(request: Request, *, values: dict, errors: dict | None = None, saved: bool = False,
                  status: int = 200, page: bool = False) -> Template:
    context = {"kinds": KINDS, "choices": EMAIL_CHOICES, "values": values, "errors": errors or {}, "saved": saved,
               "zones": time_zones()}
    return Template(SECTION if is_htmx(request) and not page else PAGE, context=context, status_code=status)


@get("/notifications")
async def notifications_settings(request: Request, pool: NamedDependency[AsyncConnectionPool],
                                 saved: FromQuery[bool] = False) -> Template:
    async with pool.connection() as conn:
        prefs = await prefs_for(conn, request.user.id)
        zone_name = await time_zone_of(conn, request.user.id)
    return await _render(request, values=_values(prefs, zone_name), saved=saved, page=True)


@post("/notifications", request_max_body_size=BODY_LIMIT)
async def save_notifications_settings(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Response:
    form = await parse_form(request, NotificationsForm)
    if form.data is None:
        return await _render(request, values=form.values, errors=form.errors, status=422)
    async with pool.connection() as conn, conn.transaction():
        await save_prefs(conn, request.user.id, form.data.prefs())
        await set_time_zone(conn, request.user.id, form.data.time_zone or None)
    if not is_htmx(request):
        return Redirect("/settings/notifications?saved=true", status_code=303)
    return await _render(request, values=_values(form.data.prefs(), form.data.time_zone), saved=True)
