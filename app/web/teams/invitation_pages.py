"""/invitations/<token>: the link of an invitation mail. It shows the team and the role and, while
the link is good, lets a signed-in person (with the invited address) join, or a person without an
account sign up with the invited address and land in the team. A used, revoked or expired link says
which it is and grants nothing. The token is in the URL: these pages send no Referer (see
app/web/security_headers.py)."""

from __future__ import annotations

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core.config import Settings
from app.spaces import invitations
from app.spaces.store import set_current_space
from app.web.auth.accounts import AccountError, sign_up
from app.web.auth.forms import SignupForm, parse_form
from app.web.auth.guards import requires_login
from app.web.auth.sessions import COOKIE, LIFETIME_DAYS, create_session, session_id

BODY_LIMIT = 16 * 1024
PAGE = "pages/teams/invitation.html"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _page(
    request: Request,
    pool: AsyncConnectionPool,
    token: str,
    *,
    errors: dict | None = None,
    status: int = 200,
) -> Template:
    async with pool.connection() as conn:
        found = await invitations.find(conn, token)
    user = request.scope.get("user")
    reason = None
    if found is None:
        reason = "unknown"
    elif found.status != "pending":
        reason = found.status
    elif user is not None and user.email != found.email:
        reason = "other_email"
    return Template(
        PAGE,
        context={
            "invitation": found,
            "token": token,
            "reason": reason,
            "message": invitations.UNUSABLE.get(reason or "", ""),
            "errors": errors or {},
            "values": {"email": found.email} if found else {},
        },
        status_code=status if reason is None else (404 if reason == "unknown" else 410),
        headers={"Cache-Control": "no-store"},
    )


@get("/{token:str}")
async def invitation_page(
    request: Request, pool: NamedDependency[AsyncConnectionPool], token: FromPath[str]
) -> Template:
    return await _page(request, pool, token)


@post("/{token:str}/accept", guards=[requires_login], request_max_body_size=BODY_LIMIT)
async def accept_invitation(
    request: Request, pool: NamedDependency[AsyncConnectionPool], token: FromPath[str]
) -> Response:
    try:
        async with pool.connection() as conn:
            found = await invitations.accept(
                conn, token, user_id=request.user.id, email=request.user.email
            )
            await set_current_space(conn, request.auth.id, request.user.id, found.space_id)
    except invitations.InvitationUnusable:
        return await _page(request, pool, token)
    return Redirect(f"/teams/{found.team_slug}", status_code=303)


@post("/{token:str}/signup", request_max_body_size=BODY_LIMIT)
async def signup_with_invitation(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    token: FromPath[str],
) -> Response:
    """Sign up with the invited address (whatever the form says), join, and work in the team."""
    async with pool.connection() as conn:
        found = await invitations.find(conn, token)
    if found is None or found.status != "pending" or request.scope.get("user") is not None:
        return await _page(request, pool, token)
    form = await parse_form(request, SignupForm)
    errors = form.errors
    if form.data is not None:
        try:
            user = await sign_up(
                pool,
                found.email,
                form.data.password,
                tier=settings.default_tier,
                ip=_client_ip(request),
                time_zone=form.data.time_zone,
            )
        except AccountError as exc:
            errors = {"form": exc.message}
        else:
            async with pool.connection() as conn:
                session = await create_session(
                    conn,
                    user.id,
                    user_agent=request.headers.get("user-agent", ""),
                    ip=_client_ip(request),
                )
                try:
                    joined = await invitations.accept(
                        conn, token, user_id=user.id, email=user.email
                    )
                except invitations.InvitationUnusable:
                    target = "/"  # taken in the meantime: the new account still signs in
                else:
                    await set_current_space(conn, session_id(session), user.id, joined.space_id)
                    target = f"/teams/{joined.team_slug}"
            cookie = Cookie(
                key=COOKIE,
                value=session,
                path="/",
                httponly=True,
                samesite="lax",
                secure=settings.base_url.startswith("https://"),
                max_age=LIFETIME_DAYS * 86400,
            )
            return Redirect(target, status_code=303, cookies=[cookie])
    return await _page(request, pool, token, errors=errors, status=422)


router = Router(
    "/invitations",
    route_handlers=[invitation_page, accept_invitation, signup_with_invitation],
)
