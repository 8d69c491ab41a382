"""/teams: a person's teams (create one), a team's page (members and roles, invitations, usage per
member, rename, plan), and the header's space switcher (POST /teams/switch).

A team is found by slug only among the person's own teams: another team's slug is a 404. Found,
but the person's role may not do the change: 403 (`app.core.policy`: MEMBERS for members and
invitations, PLAN for the team itself, AUDIT for usage). Plain forms with CSRF tokens; every change
redirects back to the team page (or re-renders it with the reason, 422)."""

from __future__ import annotations

import re

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core import policy
from app.core.config import TIERS, Settings
from app.core.policy import Action, Space
from app.spaces import invitations, teams
from app.spaces.store import set_current_space, team_by_slug, user_spaces
from app.web.auth import requires_login
from app.web.auth.forms import EMAIL, MAX_EMAIL
from app.web.auth.guards import safe_next
from app.web.htmx import navigate

BODY_LIMIT = 16 * 1024
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
LIST_PAGE = "pages/teams/index.html"
TEAM_PAGE = "pages/teams/team.html"
MENU = "partials/teams/switcher_menu.html"
DASHBOARD = "/workflows"  # the runs of the space just chosen


def require(space: Space, action: Action) -> None:
    """A visible team, an action the person's role may not do: 403 with the reason."""
    try:
        policy.require(space, action)
    except policy.Forbidden as exc:
        raise PermissionDeniedException(str(exc)) from None


async def _team(conn, request: Request, slug: str) -> Space:
    team = await team_by_slug(conn, request.user.id, slug) if SLUG.match(slug) else None
    if team is None:
        raise NotFoundException("no such team")
    return team


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str) and not k.startswith("_")}


def _int(value: str | None) -> int:
    try:
        number = int(value or "")
    except ValueError:
        return 0
    return number if 0 < number < 2**63 else 0


# -- my teams ------------------------------------------------------------------------------------


async def _list_page(
    request: Request, pool: AsyncConnectionPool, values=None, errors=None, status=200
) -> Template:
    async with pool.connection() as conn:
        spaces = await user_spaces(conn, request.user.id)
    return Template(
        LIST_PAGE,
        context={
            "teams": [s for s in spaces if s.is_team],
            "spaces": spaces,
            "current_id": request.user.space.id,
            "values": values or {},
            "errors": errors or {},
            "tiers": TIERS,
        },
        status_code=status,
    )


@get("/")
async def teams_page(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    return await _list_page(request, pool)


@post("/", request_max_body_size=BODY_LIMIT)
async def create_team(
    request: Request, pool: NamedDependency[AsyncConnectionPool]
) -> Response | Template:
    values = await _form(request)
    tier = values.get("tier") or None
    if tier and not request.user.is_admin:
        tier = None  # only an instance admin chooses a team's plan
    try:
        async with pool.connection() as conn:
            team = await teams.create_team(
                conn, name=values.get("name", ""), owner_id=request.user.id, tier=tier
            )
    except teams.TeamError as exc:
        return await _list_page(request, pool, values, {"name": str(exc)}, 422)
    return navigate(request, f"/teams/{team.slug}")


# -- the switcher ---------------------------------------------------------------------------------


@get("/menu")
async def space_menu(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Template:
    """The header's switcher, opened: the person's spaces, personal first."""
    async with pool.connection() as conn:
        spaces = await user_spaces(conn, request.user.id)
    return Template(MENU, context={"spaces": spaces, "current_id": request.user.space.id})


@post("/switch", request_max_body_size=BODY_LIMIT)
async def switch_space(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Response:
    """Work in another space from now on (this browser only), then to the dashboard, which shows
    the chosen space, or to `next` (a local path: the run page that offered the switch). A space
    the person is not a member of is not found (404) and changes nothing."""
    values = await _form(request)
    async with pool.connection() as conn:
        switched = await set_current_space(
            conn, request.auth.id, request.user.id, _int(values.get("space"))
        )
    if not switched:
        raise NotFoundException("no such space")
    target = values.get("next")
    return Redirect(safe_next(target) if target else DASHBOARD, status_code=303)


# -- a team's page --------------------------------------------------------------------------------


async def _team_page(
    request: Request,
    pool: AsyncConnectionPool,
    slug: str,
    *,
    errors: dict | None = None,
    values: dict | None = None,
    status: int = 200,
) -> Template:
    async with pool.connection() as conn:
        team = await _team(conn, request, slug)
        people = await teams.members(conn, team.id)
        pending = await invitations.pending(conn, team.id) if team.allows(Action.MEMBERS) else []
        usage = await teams.usage_by_member(conn, team.id) if team.allows(Action.AUDIT) else []
    owners = sum(1 for p in people if p["role"] == "owner")
    return Template(
        TEAM_PAGE,
        context={
            "team": team,
            "members": people,
            "owners": owners,
            "invitations": pending,
            "usage": usage,
            "usage_total": {
                k: sum(row[k] for row in usage) for k in ("runs", "steps", "tokens", "cost_usd")
            },
            "roles": teams.ROLES if team.role == "owner" else teams.ROLES[1:],
            "invite_roles": invitations.INVITABLE_ROLES,
            "tiers": TIERS,
            "errors": errors or {},
            "values": values or {},
            "can": {
                "members": team.allows(Action.MEMBERS),
                "plan": team.allows(Action.PLAN),
                "usage": team.allows(Action.AUDIT),
                "tier": request.user.is_admin,
            },
        },
        status_code=status,
    )


@get("/{slug:str}")
async def team_page(
    request: Request, pool: NamedDependency[AsyncConnectionPool], slug: FromPath[str]
) -> Template:
    return await _team_page(request, pool, slug)


async def _change(request: Request, pool: AsyncConnectionPool, slug: str, action: Action, change):
    """Find the team, check the role, make the change; a refused change re-renders the page with
    its reason (422), a done one goes back to the page."""
    async with pool.connection() as conn:
        team = await _team(conn, request, slug)
        require(team, action)
        try:
            target = await change(conn, team)
        except policy.Forbidden as exc:
            raise PermissionDeniedException(str(exc)) from None
        except teams.TeamError as exc:
            error = str(exc)
        else:
            return navigate(request, target or f"/teams/{team.slug}")
    return await _team_page(request, pool, slug, errors={"form": error}, status=422)


@post("/{slug:str}/members/{user_id:int}/role", request_max_body_size=BODY_LIMIT)
async def change_role(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    slug: FromPath[str],
    user_id: FromPath[int],
) -> Response:
    role = (await _form(request)).get("role", "")

    async def change(conn, team):
        await teams.change_role(conn, team, user_id, role, actor_id=request.user.id)

    return await _change(request, pool, slug, Action.MEMBERS, change)


@post("/{slug:str}/members/{user_id:int}/remove", request_max_body_size=BODY_LIMIT)
async def remove_member(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    slug: FromPath[str],
    user_id: FromPath[int],
) -> Response:
    async def change(conn, team):
        await teams.remove_member(conn, team, user_id, actor_id=request.user.id)

    action = Action.READ if user_id == request.user.id else Action.MEMBERS
    return await _change(request, pool, slug, action, change)


@post("/{slug:str}/leave", request_max_body_size=BODY_LIMIT)
async def leave_team(
    request: Request, pool: NamedDependency[AsyncConnectionPool], slug: FromPath[str]
) -> Response:
    async def change(conn, team):
        await teams.remove_member(conn, team, request.user.id, actor_id=request.user.id)
        return "/teams"

    return await _change(request, pool, slug, Action.READ, change)


@post("/{slug:str}/invitations", request_max_body_size=BODY_LIMIT)
async def invite(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
    slug: FromPath[str],
) -> Response:
    values = await _form(request)
    email, role = values.get("email", "").lower(), values.get("role", "member")
    if not EMAIL.match(email) or len(email) > MAX_EMAIL or "\x00" in email:
        async with pool.connection() as conn:
            require(await _team(conn, request, slug), Action.MEMBERS)
        errors = {"email": "Enter a valid email address, like name@example.com."}
        return await _team_page(request, pool, slug, errors=errors, values=values, status=422)

    async def change(conn, team):
        await invitations.invite(
            conn,
            team,
            email,
            role,
            actor_id=request.user.id,
            actor_email=request.user.email,
            base_url=settings.base_url,
        )

    return await _change(request, pool, slug, Action.MEMBERS, change)


@post("/{slug:str}/invitations/{invitation_id:int}/revoke", request_max_body_size=BODY_LIMIT)
async def revoke_invitation(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    slug: FromPath[str],
    invitation_id: FromPath[int],
) -> Response:
    async def change(conn, team):
        if not await invitations.revoke(conn, team, invitation_id, actor_id=request.user.id):
            raise NotFoundException("no such invitation")

    return await _change(request, pool, slug, Action.MEMBERS, change)


@post("/{slug:str}/rename", request_max_body_size=BODY_LIMIT)
async def rename_team(
    request: Request, pool: NamedDependency[AsyncConnectionPool], slug: FromPath[str]
) -> Response:
    name = (await _form(request)).get("name", "")

    async def change(conn, team):
        await teams.rename_team(conn, team, name, actor_id=request.user.id)

    return await _change(request, pool, slug, Action.PLAN, change)


@post("/{slug:str}/tier", request_max_body_size=BODY_LIMIT)
async def set_tier(
    request: Request, pool: NamedDependency[AsyncConnectionPool], slug: FromPath[str]
) -> Response:
    tier = (await _form(request)).get("tier", "")
    if not request.user.is_admin:
        async with pool.connection() as conn:
            await _team(conn, request, slug)  # 404 before 403
        raise PermissionDeniedException("Only an instance administrator changes a team's plan.")

    async def change(conn, team):
        await teams.set_team_tier(conn, team, tier, actor_id=request.user.id)

    return await _change(request, pool, slug, Action.READ, change)


@post("/{slug:str}/delete", request_max_body_size=BODY_LIMIT)
async def delete_team(
    request: Request, pool: NamedDependency[AsyncConnectionPool], slug: FromPath[str]
) -> Response:
    """The owner deletes the team, after typing its name (everything in it goes with it)."""
    confirm = (await _form(request)).get("confirm", "")

    async def change(conn, team):
        if confirm != team.name:
            raise teams.TeamError("Type the team's name exactly to delete it.")
        await teams.delete_team(conn, team, actor_id=request.user.id)
        return "/teams"

    return await _change(request, pool, slug, Action.PLAN, change)


router = Router(
    "/teams",
    route_handlers=[
        teams_page,
        create_team,
        team_page,
        change_role,
        remove_member,
        leave_team,
        invite,
        revoke_invitation,
        rename_team,
        set_tier,
        delete_team,
    ],
    guards=[requires_login],
)

spaces_router = Router(
    "/spaces", route_handlers=[space_menu, switch_space], guards=[requires_login]
)
