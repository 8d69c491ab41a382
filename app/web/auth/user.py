"""Who is asking: set on every request by `SessionMiddleware` as `request.user` / `request.auth`."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.policy import Space


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: int
    email: str
    tier: str
    is_admin: bool
    time_zone: str | None = (
        None  # IANA name; None: not set, dates shown in UTC (app/core/local_time.py)
    )
    theme: str | None = None  # "light" or "dark"; None: follow the system setting
    # The space this request acts in, with the user's role there (app/core/policy.py). Set for every
    # signed-in page and API request; None only on the bare objects made at sign-up and login.
    space: Space | None = None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str  # SHA-256 of the cookie token, the sessions row's key
