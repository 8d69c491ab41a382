"""Two ASGI middlewares, in this order: who is asking (sessions), then CSRF.

`SessionMiddleware` sets `scope["user"]` (a `CurrentUser`, or None) and `scope["auth"]` (a
`SessionInfo`, or None) on every request, so handlers read `request.user`. `/api/*` is left to API
keys (the API's guard sets the user) and `/hooks/*` to webhook tokens: no session is read there,
and no CSRF token is asked for (no cookie authenticates those requests, so there is nothing to forge).

`CSRFMiddleware` refuses any unsafe request (POST, PUT, PATCH, DELETE) that does not carry the
page's token, either as the `X-CSRF-Token` header (HTMX sends it from `hx-headers` on <body>) or as
the `_csrf_token` form field (plain forms). A signed-in browser's token is an HMAC of its session,
so it cannot be learned or planted without the session itself; before login it is bound to a
random `baton_csrf` cookie. Templates get it as `{{ csrf_token() }}`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from litestar import Request
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from app.web.auth.sessions import COOKIE, load_session

UNGUARDED = ("/static/", "/healthz")
# Authenticated by an API key or a webhook token, never by the session cookie.
NO_SESSION = ("/api/", "/hooks/")
# The URL carries a signed single-purpose token that is the whole authority (no cookie is used), and
# mail clients' RFC 8058 one-click POSTs cannot send a CSRF token: app/web/notifications/unsubscribe.py.
SIGNED_LINKS = ("/unsubscribe/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf_token"
ANON_COOKIE = "baton_csrf"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _services(scope: Scope):
    return scope["litestar_app"].state.services


class SessionMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope["user"] = None
            scope["auth"] = None
            path = scope["path"]
            if not path.startswith(UNGUARDED) and not path.startswith(NO_SESSION):
                token = Request(scope).cookies.get(COOKIE)
                if token:
                    async with _services(scope).pool.connection() as conn:
                        found = await load_session(conn, token)
                    if found:
                        scope["user"], scope["auth"] = found
        await self.app(scope, receive, send)


def csrf_token_for(secret: str, subject: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{subject}".encode(), hashlib.sha256).hexdigest()


class CSRFMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(UNGUARDED) or path.startswith(NO_SESSION):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        session = scope.get("auth")
        new_cookie = None
        if session is not None:
            subject = f"session:{session.id}"
        else:
            anon = request.cookies.get(ANON_COOKIE)
            if not anon:
                anon = new_cookie = secrets.token_urlsafe(32)
            subject = f"anon:{anon}"
        settings = _services(scope).settings
        expected = csrf_token_for(settings.secret_key, subject)
        ScopeState.from_scope(scope).csrf_token = expected
        if (
            scope["method"] not in SAFE_METHODS
            and not path.startswith(SIGNED_LINKS)
            and not await self._carries(request, expected)
        ):
            raise PermissionDeniedException("This page has expired. Reload it and try again.")
        if new_cookie:
            send = _adding_cookie(
                send,
                Cookie(
                    key=ANON_COOKIE,
                    value=new_cookie,
                    path="/",
                    httponly=True,
                    samesite="lax",
                    secure=settings.base_url.startswith("https://"),
                ),
            )
        await self.app(scope, receive, send)

    @staticmethod
    async def _carries(request: Request, expected: str) -> bool:
        sent = request.headers.get(CSRF_HEADER)
        if sent and hmac.compare_digest(sent, expected):
            return True
        if request.headers.get("content-type", "").startswith(FORM_TYPES):
            field = (await request.form()).get(CSRF_FIELD)
            return isinstance(field, str) and hmac.compare_digest(field, expected)
        return False


def _adding_cookie(send: Send, cookie: Cookie) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableScopeHeaders.from_message(message).add("set-cookie", cookie.to_header(header=""))
        await send(message)

    return wrapped
