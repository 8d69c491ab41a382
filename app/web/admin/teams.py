"""The instance admin's teams (/admin/teams): every team with its members, plan and runs this
month, and changing a team's plan without being one of its members. The change is written to the
team's audit log, with the admin who made it (app.spaces.teams.set_team_tier)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.spaces import teams
from app.web.admin import store
from app.web.admin.forms import TierChoice
from app.web.auth.forms import parse_form
from app.web.htmx import is_htmx

BODY_LIMIT = 16 * 1024


@get("/teams")
async def teams_page(
    pool: NamedDependency[AsyncConnectionPool], q: FromQuery[str] = "", page: FromQuery[int] = 1
) -> Template:
    q, page = q.strip()[:100], max(1, min(page, 100_000))
    async with pool.connection() as conn:
        found, more = await teams.teams_for_admin(conn, q, page)
        tiers = await store.list_tiers(conn)
    return Template(
        "pages/admin/teams.html",
        context={"teams": found, "more": more, "q": q, "page": page, "tiers": tiers},
    )


@post("/teams/{team_id:int}/tier", request_max_body_size=BODY_LIMIT)
async def change_team_tier(
    request: Request, pool: NamedDependency[AsyncConnectionPool], team_id: FromPath[int]
) -> Response:
    """Move the team to another plan (its quota from now on); 404 for no such team. HTMX gets the
    team's row again (with the error, 422), a plain form the list."""
    form = await parse_form(request, TierChoice)
    async with pool.connection() as conn:
        team = await teams.team_by_id_any(conn, team_id)
        if team is None:
            raise NotFoundException()
        error = None if form.data is not None else form.errors.get("tier", "Choose a plan.")
        if error is None:
            try:
                await teams.set_team_tier(conn, team, form.data.tier, actor_id=request.user.id)
            except teams.TeamError as exc:
                error = str(exc)
        [row], _ = await teams.teams_for_admin(conn, team_id=team_id)
        tiers = await store.list_tiers(conn)
    status = 200 if error is None else 422
    if is_htmx(request):
        context = {"t": row, "tiers": tiers, "error": error, "saved": error is None}
        return Template("partials/admin/team_row.html", context=context, status_code=status)
    if error is None:
        return Redirect("/admin/teams", status_code=303)
    return Template(
        "pages/admin/teams.html",
        context={"teams": [row], "more": False, "q": "", "page": 1, "tiers": tiers}
        | {"error_for": {team_id: error}},
        status_code=status,
    )
