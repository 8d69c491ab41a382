"""Errors any area of the web may raise, answered in one place (app/web/app.py `_error_page`, and
app/web/json_errors.py for the JSON API).

`app.core.policy.Forbidden` (a role that may not do this, to something the person can see) is
answered here too: a 403 page saying why, or the API's `{"error": {"code": "forbidden", ...}}`.
Raise it with `policy.require(request.user.space, Action.X)`; never catch it to answer yourself.
"""

from app.core.policy import Forbidden

FORBIDDEN = (Forbidden,)


def forbidden_reason(exc: Exception) -> str:
    """What a 403 page or error says: the policy's sentence (role, space, action), never internals."""
    return str(exc) or "Your role in this space may not do this."


class NotFound(Exception):
    """Not there, or not the user's (which looks the same to them): a 404 page, or the JSON API's
    `not_found`. Areas subclass it for their own things (a conversation, ...)."""
