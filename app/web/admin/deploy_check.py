"""The "runs at risk after the last deploy" card on /admin: the last deploy check a worker
recorded when it started (worker/deploy_check.py), read from one row — no replay per page view."""

from __future__ import annotations

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from psycopg_pool import AsyncConnectionPool

from app.engine.deploy_check import last_check
from app.web.htmx import is_htmx

# The card lists this many runs; the recorded check holds up to app/engine/deploy_check.STORED_RUNS.
SHOWN_RUNS = 20


@get("/deploy-check")
async def deploy_check_card(
    request: Request, pool: NamedDependency[AsyncConnectionPool]
) -> Template:
    async with pool.connection() as conn:
        check = await last_check(conn)
    template = (
        "partials/admin/deploy_check.html" if is_htmx(request) else "pages/admin/deploy_check.html"
    )
    return Template(template, context={"check": check, "shown": SHOWN_RUNS, "me": request.user.id})
