"""Admin pages: users (search, tier, disable), teams (app/web/admin/teams.py) and the tiers'
limits. Admins only."""

from __future__ import annotations

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.web.admin import store
from app.web.admin.deploy_check import deploy_check_card
from app.web.admin.forms import TierChoice, TierLimits
from app.web.admin.teams import change_team_tier, teams_page
from app.web.auth import requires_admin
from app.web.auth.accounts import set_disabled, set_tier
from app.web.auth.forms import parse_form
from app.web.htmx import is_htmx

BODY_LIMIT = 16 * 1024


@get("/users")
async def users_page(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    q: FromQuery[str] = "",
    page: FromQuery[int] = 1,
) -> Template:
    q, page = q.strip()[:254], max(1, min(page, 100_000))
    async with pool.connection() as conn:
        users, more = await store.find_users(conn, q, page)
        tiers = await store.list_tiers(conn)
    return Template(
        "pages/admin/users.html",
        context={"users": users, "more": more, "q": q, "page": page, "tiers": tiers},
    )


async def _user_row(
    request: Request,
    pool: AsyncConnectionPool,
    user_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    async with pool.connection() as conn:
        user = await store.get_user(conn, user_id)
        tiers = await store.list_tiers(conn)
    if user is None:
        raise NotFoundException()
    if not is_htmx(request):
        return Redirect("/admin/users", status_code=303)
    return Template(
        "partials/admin/user_row.html",
        context={"u": user, "tiers": tiers, "error": error},
        status_code=status,
    )


@post("/users/{user_id:int}/tier", request_max_body_size=BODY_LIMIT)
async def change_tier(
    request: Request, pool: NamedDependency[AsyncConnectionPool], user_id: FromPath[int]
) -> Response:
    form = await parse_form(request, TierChoice)
    if form.data is None:
        return await _user_row(request, pool, user_id, error=form.errors.get("tier"), status=422)
    async with pool.connection() as conn:
        if not await set_tier(conn, form.data.tier, user_id=user_id):
            raise NotFoundException()
    return await _user_row(request, pool, user_id)


@post("/users/{user_id:int}/disable")
async def disable_user(
    request: Request, pool: NamedDependency[AsyncConnectionPool], user_id: FromPath[int]
) -> Response:
    if user_id == request.user.id:
        return await _user_row(
            request, pool, user_id, error="You cannot disable your own account.", status=422
        )
    async with pool.connection() as conn:
        if not await set_disabled(conn, user_id, True):
            raise NotFoundException()
    return await _user_row(request, pool, user_id)


@post("/users/{user_id:int}/enable")
async def enable_user(
    request: Request, pool: NamedDependency[AsyncConnectionPool], user_id: FromPath[int]
) -> Response:
    async with pool.connection() as conn:
        if not await set_disabled(conn, user_id, False):
            raise NotFoundException()
    return await _user_row(request, pool, user_id)


@get("/tiers")
async def tiers_page(pool: NamedDependency[AsyncConnectionPool]) -> Template:
    async with pool.connection() as conn:
        tiers = await store.list_tiers(conn)
    return Template("pages/admin/tiers.html", context={"tiers": tiers})


@post("/tiers/{name:str}", request_max_body_size=BODY_LIMIT)
async def save_tier(
    request: Request, pool: NamedDependency[AsyncConnectionPool], name: FromPath[str]
) -> Response:
    form = await parse_form(request, TierLimits)
    async with pool.connection() as conn:
        if form.data is not None:
            tier = await store.update_tier(conn, name, form.data.model_dump())
            if tier is None:
                raise NotFoundException()
            if not is_htmx(request):
                return Redirect("/admin/tiers", status_code=303)
            return Template(
                "partials/admin/tier_card.html", context={"t": tier, "errors": {}, "saved": True}
            )
        tiers = await store.list_tiers(conn)
    if name not in {t["name"] for t in tiers}:
        raise NotFoundException()
    shown = {"name": name, **form.values}
    if is_htmx(request):
        return Template(
            "partials/admin/tier_card.html",
            status_code=422,
            context={"t": shown, "errors": form.errors, "saved": False},
        )
    tiers = [shown if t["name"] == name else t for t in tiers]
    return Template(
        "pages/admin/tiers.html",
        status_code=422,
        context={"tiers": tiers, "errors_for": {name: form.errors}},
    )


router = Router(
    path="/admin",
    guards=[requires_admin],
    route_handlers=[
        users_page,
        change_tier,
        disable_user,
        enable_user,
        teams_page,
        change_team_tier,
        tiers_page,
        save_tier,
        deploy_check_card,
    ],
)
