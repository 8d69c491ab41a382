"""Route guards. Put `guards=[requires_login]` on a router or handler and read `request.user`.

Without a session: a page request is redirected to /login (and back afterwards), an HTMX request
gets `HX-Redirect` so the whole page goes to /login, and `/api/*` gets a JSON 401.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect


class LoginRequired(NotAuthorizedException):
    """Raised by `requires_login`; turned into a redirect to the login page."""


def requires_login(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if connection.scope.get("user") is None:
        raise LoginRequired("Log in to continue.")


def requires_admin(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    requires_login(connection, handler)
    if not connection.scope["user"].is_admin:
        raise PermissionDeniedException("Only administrators can see this page.")


def safe_next(target: str | None) -> str:
    """A local path to return to after login; anything else (other hosts, `//evil`) becomes /."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    if request.url.path.startswith("/api/"):
        return Response(
            {"error": {"code": "unauthorized", "message": "An API key is required."}},
            status_code=401,
        )
    if request.headers.get("hx-request"):
        current = urlsplit(request.headers.get("hx-current-url", "/"))
        here = current.path + (f"?{current.query}" if current.query else "")
        return Response(
            None, status_code=401, headers={"HX-Redirect": f"/login?next={quote(safe_next(here))}"}
        )
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"/login?next={quote(safe_next(here))}" if request.method == "GET" else "/login"
    return Redirect(target, status_code=303)
