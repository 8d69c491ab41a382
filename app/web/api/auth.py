"""Who is calling the API: `Authorization: Bearer <key>`, checked on every request, then the
caller's per-minute rate limit (its tier's `api_per_minute`, kept in Postgres so the limit holds
across every web process). Sets `request.user` as the session middleware does for pages."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import SecurityScheme

from app.core import ratelimit
from app.web.auth import api_keys as keys
from app.web.auth.user import CurrentUser
from app.web.json_errors import ApiError, RateLimited

SECURITY_SCHEME = "BearerKey"
security_components = {
    SECURITY_SCHEME: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="bk_…",
        description="An API key from Settings → API keys (or `baton apikey create`).",
    ),
}


def bearer_key(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


async def requires_api_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard of every /api/v1 route."""
    key = bearer_key(connection.headers.get("authorization"))
    if key is None:
        raise ApiError(
            "unauthorized",
            "Send an API key as `Authorization: Bearer <key>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    async with connection.app.state.services.pool.connection() as conn:
        owner = await keys.authenticate(conn, key)
        if owner is None:
            raise ApiError(
                "unauthorized",
                "This API key is not valid (unknown or revoked).",
                headers={"WWW-Authenticate": "Bearer"},
            )
        wait, _ = await ratelimit.take_tier_slot(
            conn, ratelimit.API_CALLS, owner.user_id, owner.space.tier
        )
    if wait:
        raise RateLimited(wait)
    connection.scope["user"] = CurrentUser(
        owner.user_id, owner.email, owner.tier, owner.is_admin, space=owner.space
    )
