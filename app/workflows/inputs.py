"""Input field types shared by the built-in workflows' input models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)\s*$",
    re.I,
)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION_S = 30 * 86400


def duration_seconds(text: str) -> float:
    """'90s', '30m', '4h', '2d' (or '4 hours') in seconds."""
    found = _DURATION.match(text or "")
    if not found:
        raise ValueError("Write a duration like 30m, 4h or 2d.")
    return float(found.group(1)) * _UNIT_S[found.group(2)[0].lower()]


def _duration(value: str) -> str:
    seconds = duration_seconds(value)
    if seconds < 1 or seconds > MAX_DURATION_S:
        raise ValueError("Between 1 second and 30 days.")
    return value.strip()


# A duration typed by a person, kept as typed ("24h"); `duration_seconds` reads it.
Duration = Annotated[str, AfterValidator(_duration)]


def _blank_to_none(value):
    return None if isinstance(value, str) and not value.strip() else value


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if len(value) > 254 or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
        raise ValueError("Enter a valid email address, like name@example.com.")
    return value


# An optional email address: blank means none.
OptionalEmail = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_email)]
