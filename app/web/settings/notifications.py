"""`/settings/notifications`: per kind of notice, e-mail (each time / daily digest / never) and the
in-app bell. The daily digest follows the person's time zone, which is set in one place only
(`/settings/display`); this page shows it with a link there. A plain form that also works with HTMX
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
from pydantic import BaseModel, ConfigDict

from app.core.notify_prefs import EMAIL_CHOICES, KINDS, Pref, prefs_for, save_prefs
from app.web.auth.forms import parse_form
from app.web.htmx import is_htmx

BODY_LIMIT = 16 * 1024
PAGE = "pages/settings/notifications.html"
SECTION = "partials/settings/notifications.html"

Email = Literal["each", "digest", "off"]


class NotificationsForm(BaseModel):
    """One `email_<kind>` select and one `in_app_<kind>` checkbox per kind (an unticked box is not
    sent, hence the False defaults)."""

    model_config = ConfigDict(extra="ignore")
    email_review_needed: Email
    email_reminder: Email
    email_run_finished: Email
    email_run_failed: Email
    in_app_review_needed: bool = False
    in_app_reminder: bool = False
    in_app_run_finished: bool = False
    in_app_run_failed: bool = False

    def prefs(self) -> dict[str, Pref]:
        return {
            kind: Pref(getattr(self, f"email_{kind}"), getattr(self, f"in_app_{kind}"))
            for kind in KINDS
        }


def _values(prefs: dict[str, Pref]) -> dict[str, str]:
    values = {f"email_{kind}": pref.email for kind, pref in prefs.items()}
    return values | {f"in_app_{kind}": "on" for kind, pref in prefs.items() if pref.in_app}


async def _render(
    request: Request,
    *,
    values: dict,
    errors: dict | None = None,
    saved: bool = False,
    status: int = 200,
    page: bool = False,
) -> Template:
    context = {
        "kinds": KINDS,
        "choices": EMAIL_CHOICES,
        "values": values,
        "errors": errors or {},
        "saved": saved,
        "time_zone": request.user.time_zone,
    }
    return Template(
        SECTION if is_htmx(request) and not page else PAGE, context=context, status_code=status
    )


@get("/notifications")
async def notifications_settings(
    request: Request, pool: NamedDependency[AsyncConnectionPool], saved: FromQuery[bool] = False
) -> Template:
    async with pool.connection() as conn:
        prefs = await prefs_for(conn, request.user.id)
    return await _render(request, values=_values(prefs), saved=saved, page=True)


@post("/notifications", request_max_body_size=BODY_LIMIT)
async def save_notifications_settings(
    request: Request, pool: NamedDependency[AsyncConnectionPool]
) -> Response:
    form = await parse_form(request, NotificationsForm)
    if form.data is None:
        return await _render(request, values=form.values, errors=form.errors, status=422)
    async with pool.connection() as conn:
        await save_prefs(conn, request.user.id, form.data.prefs())
    if not is_htmx(request):
        return Redirect("/settings/notifications?saved=true", status_code=303)
    return await _render(request, values=_values(form.data.prefs()), saved=True)
