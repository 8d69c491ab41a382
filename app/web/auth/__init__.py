"""Accounts and access: sessions, CSRF, guards, sign-up/login pages.

For other areas:
    from app.web.auth import CurrentUser, requires_login, requires_admin
    router = Router("/runs", route_handlers=[...], guards=[requires_login])
    ...  request.user  -> CurrentUser(id, email, tier, is_admin), or None on public routes
Forms: `parse_form(request, PydanticModel)` from `app.web.auth.forms`.
Rate limits: `app.core.ratelimit` (the one limiter for chat, API, login and engine limits).
API keys: `app.web.auth.api_keys` (create, list, revoke; `authenticate` for the JSON API).
"""

from app.web.auth.guards import LoginRequired, login_redirect, requires_admin, requires_login
from app.web.auth.middleware import CSRFMiddleware, SessionMiddleware
from app.web.auth.routes import routes
from app.web.auth.user import CurrentUser, SessionInfo

# Order matters: the CSRF token of a signed-in browser is derived from its session.
middleware = [SessionMiddleware, CSRFMiddleware]
exception_handlers = {LoginRequired: login_redirect}

__all__ = [
    "CSRFMiddleware",
    "CurrentUser",
    "LoginRequired",
    "SessionInfo",
    "SessionMiddleware",
    "exception_handlers",
    "middleware",
    "requires_admin",
    "requires_login",
    "routes",
]
