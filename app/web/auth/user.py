"""Who is asking: set on every request by `SessionMiddleware` as `request.user` / `request.auth`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: int
    email: str
    tier: str
    is_admin: bool


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str  # SHA-256 of the cookie token, the sessions row's key
