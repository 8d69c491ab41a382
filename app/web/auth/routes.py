"""Sign up, log in, log out (here or everywhere), and the account page.

Auth forms post as plain forms (not HTMX): a login changes the CSRF token and the navigation, so
the whole page is reloaded rather than patched.
"""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core.config import Settings
from app.engine.quotas import month_usage
from app.web.auth.accounts import AccountError, LoginRefused, log_in, sign_up
from app.web.auth.forms import LoginForm, SignupForm, parse_form
from app.web.auth.guards import requires_login, safe_next
from app.web.auth.sessions import (
    COOKIE,
    LIFETIME_DAYS,
    create_session,
    end_all_sessions,
    end_session,
    list_sessions,
)
from app.web.auth.user import CurrentUser

AFTER_LOGIN = "/chat"
BODY_LIMIT = 16 * 1024


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _signed_in(
    request: Request, pool: AsyncConnectionPool, settings: Settings, user: CurrentUser, target: str
) -> Redirect:
    async with pool.connection() as conn:
        token = await create_session(
            conn, user.id, user_agent=request.headers.get("user-agent", ""), ip=client_ip(request)
        )
    cookie = Cookie(
        key=COOKIE,
        value=token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
        max_age=LIFETIME_DAYS * 86400,
    )
    return Redirect(target, status_code=303, cookies=[cookie])


@get("/signup", name="signup")
async def signup_page(request: Request) -> Template | Redirect:
    if request.user:
        return Redirect(AFTER_LOGIN)
    return Template("pages/auth/signup.html", context={"values": {}, "errors": {}})


@post("/signup", request_max_body_size=BODY_LIMIT)
async def signup(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Response:
    form = await parse_form(request, SignupForm)
    if form.data is not None:
        try:
            user = await sign_up(
                pool,
                form.data.email,
                form.data.password,
                tier=settings.default_tier,
                ip=client_ip(request),
                time_zone=form.data.time_zone,
            )
            return await _signed_in(request, pool, settings, user, AFTER_LOGIN)
        except AccountError as exc:
            form.errors[exc.field] = exc.message
    form.values.pop("password", None)
    return Template(
        "pages/auth/signup.html",
        context={"values": form.values, "errors": form.errors},
        status_code=422,
    )


@get("/login", name="login")
async def login_page(request: Request, next: FromQuery[str] = "/") -> Template | Redirect:
    if request.user:
        return Redirect(safe_next(next) if next != "/" else AFTER_LOGIN)
    return Template(
        "pages/auth/login.html", context={"values": {"next": safe_next(next)}, "errors": {}}
    )


@post("/login", request_max_body_size=BODY_LIMIT)
async def login(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Response:
    form = await parse_form(request, LoginForm)
    status, headers = 422, {}
    if form.data is not None:
        try:
            user = await log_in(pool, form.data.email, form.data.password, ip=client_ip(request))
            target = safe_next(form.data.next)
            return await _signed_in(
                request, pool, settings, user, AFTER_LOGIN if target == "/" else target
            )
        except LoginRefused as exc:
            form.errors["form"] = exc.message
            if exc.retry_after:
                status, headers = 429, {"Retry-After": str(int(exc.retry_after) + 1)}
    form.values.pop("password", None)
    form.values["next"] = safe_next(form.values.get("next"))
    return Template(
        "pages/auth/login.html",
        context={"values": form.values, "errors": form.errors},
        status_code=status,
        headers=headers,
    )


def _signed_out() -> Redirect:
    response = Redirect("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@post("/logout")
async def logout(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Redirect:
    if request.auth is not None:
        async with pool.connection() as conn:
            await end_session(conn, request.auth.id)
    return _signed_out()


@post("/account/logout-everywhere", guards=[requires_login])
async def logout_everywhere(
    request: Request, pool: NamedDependency[AsyncConnectionPool]
) -> Redirect:
    async with pool.connection() as conn:
        await end_all_sessions(conn, request.user.id)
    return _signed_out()


@get("/account", guards=[requires_login])
async def account_page(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    async with pool.connection() as conn:
        sessions = await list_sessions(conn, request.user.id)
        tier = await (
            await conn.execute("SELECT * FROM tiers WHERE name = %s", (request.user.tier,))
        ).fetchone()
        # In a team, "this month" is the team's: its runs against its plan's quota, its members'
        # tokens and cost added up (app/engine/quotas.py).
        space = request.user.space
        usage = await month_usage(conn, request.user.id, space.id, team=space.is_team)
        quota_tier = tier
        if space.is_team:
            quota_tier = await (
                await conn.execute("SELECT * FROM tiers WHERE name = %s", (space.tier,))
            ).fetchone()
    return Template(
        "pages/auth/account.html",
        context={
            "sessions": sessions,
            "tier": tier,
            "quota_tier": quota_tier,
            "team": space.name if space.is_team else None,
            "usage": usage,
            "current_session": request.auth.id,
        },
    )


routes = [signup_page, signup, login_page, login, logout, logout_everywhere, account_page]
