"""The security headers of every response, added in one place (a `before_send` hook: it sees every
response, the error pages of unknown routes and static files included).

HTML (pages and HTMX fragments): a Content-Security-Policy that lets scripts and styles come from
this server's files only (static/: the vendored htmx, static/js/baton.js, baton.css, Swagger UI) —
so no inline <script>, no `on…=` or `hx-on` attributes, no `style=` attributes in templates — and
forbids framing by anyone (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for old browsers).
JSON: a policy that allows nothing (an API answer is never a document to render).
Everything: `X-Content-Type-Options: nosniff`, and `Referrer-Policy: same-origin` — except where
the URL itself is a credential (the e-mail review links `/review/<token>`, the admin's copy of the
mails that carry them): `no-referrer`, so the token never leaves in a Referer header.

A header a handler set itself wins (the uploads' sandboxed reports bring their own policy).
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # data: for the Swagger UI's icons
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
TOKEN_IN_URL = ("/review/", "/admin/outbox", "/invitations/")


def headers_for(path: str, content_type: str) -> dict[str, str]:
    """The security headers a response gets, by its path and media type."""
    media = content_type.split(";", 1)[0].strip().lower()
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer" if path.startswith(TOKEN_IN_URL) else "same-origin",
    }
    if media == "text/html":
        headers |= {"Content-Security-Policy": PAGE_POLICY, "X-Frame-Options": "DENY"}
    elif media == "application/json" or media.endswith("+json"):
        headers["Content-Security-Policy"] = JSON_POLICY
    return headers


async def add_security_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook of the app."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in headers_for(
        scope.get("path", ""), headers.get("content-type") or ""
    ).items():
        if name not in headers:
            headers.add(name, value)
