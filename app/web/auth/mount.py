"""What the web app mounts from this area: its pages, its middleware and its exception handlers."""

from __future__ import annotations

from app.web.auth.guards import LoginRequired, login_redirect
from app.web.auth.middleware import CSRFMiddleware, SessionMiddleware
from app.web.auth.routes import routes

# Order matters: the CSRF token of a signed-in browser is derived from its session.
middleware = [SessionMiddleware, CSRFMiddleware]
exception_handlers = {LoginRequired: login_redirect}

__all__ = ["exception_handlers", "middleware", "routes"]
