"""Accounts and access: sessions, CSRF, guards, sign-up/login pages.

The web app mounts `app.web.auth.mount` (routes, middleware, exception handlers).

For other areas:
    from app.web.auth import CurrentUser, requires_login, requires_admin
    router = Router("/runs", route_handlers=[...], guards=[requires_login])
    ...  request.user  -> CurrentUser(id, email, tier, is_admin), or None on public routes
Forms: `parse_form(request, PydanticModel)` from `app.web.auth.forms`.
Rate limits: `app.core.ratelimit` (the one limiter for chat, API, login and engine limits).
API keys: `app.web.auth.api_keys` (create, list, revoke; `authenticate` for the JSON API).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from app.web.auth.user import CurrentUser, SessionInfo

if TYPE_CHECKING:
    from app.web.auth.guards import LoginRequired, requires_admin, requires_login
    from app.web.auth.middleware import CSRFMiddleware, SessionMiddleware

# The guards and middleware load on first use: this package is also the parent of the light
# modules `baton` commands import (passwords, accounts, api_keys), which must not pay for the web
# framework on every invocation.
_LAZY = {
    "LoginRequired": "app.web.auth.guards",
    "requires_admin": "app.web.auth.guards",
    "requires_login": "app.web.auth.guards",
    "CSRFMiddleware": "app.web.auth.middleware",
    "SessionMiddleware": "app.web.auth.middleware",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CSRFMiddleware",
    "CurrentUser",
    "LoginRequired",
    "SessionInfo",
    "SessionMiddleware",
    "requires_admin",
    "requires_login",
]
