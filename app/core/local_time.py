"""Dates as each person reads them: in their own time zone, with the zone named, and relative
("in 3 h", "5 min ago") where the distance matters more than the clock.

One place for every date shown: the page templates get these as Jinja filters (app/web/app.py),
the e-mail templates too (app/core/mail.py), so a date can never be shown in UTC by accident.
The zone is `users.time_zone` (an IANA name; NULL = not set, shown as UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from jinja2 import pass_context
from jinja2.runtime import Context

MAX_ZONE_NAME = 64
FORMATS = {
    "datetime": "%-d %b %Y, %H:%M",
    "date": "%-d %b %Y",
    "time": "%H:%M",
    "seconds": "%H:%M:%S",
    "weekday": "%a %-d %b, %H:%M",
}


class BadTimeZone(ValueError):
    pass


def parse_zone(name: str | None) -> str | None:
    """The IANA name, checked against the system's zone database; "" or None means not set.
    Raises BadTimeZone with a message to show."""
    name = (name or "").strip()
    if not name:
        return None
    # ZoneInfo also opens paths like "../x"; only names from the database are accepted.
    if len(name) > MAX_ZONE_NAME or name not in _known_zones():
        raise BadTimeZone(
            f"“{name[:MAX_ZONE_NAME]}” is not a time zone name (e.g. Europe/Paris, America/New_York)."
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTimeZone(f"“{name}” is not a time zone this server knows.") from None
    return name


_zones: frozenset[str] | None = None


def _known_zones() -> frozenset[str]:
    global _zones
    if _zones is None:
        _zones = frozenset(available_timezones()) | {"UTC"}
    return _zones


def zone_names() -> list[str]:
    """Every zone a person may choose, sorted (the settings form's list)."""
    return sorted(_known_zones())


def zone_of(name: str | None) -> tzinfo:
    """A stored zone name as a tzinfo; a missing or no longer known one is UTC."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def format_local(value: datetime | None, zone: str | None, style: str = "datetime") -> str:
    """ "4 Dec 2026, 09:15 CET": the moment in `zone`, the zone's abbreviation after it (dates alone
    carry no zone). Naive datetimes are taken as UTC (the database hands out aware ones)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone_of(zone))
    text = local.strftime(FORMATS[style])
    if style == "date":
        return text
    return f"{text} {_abbreviation(local)}"


def _abbreviation(local: datetime) -> str:
    name = local.tzname() or "UTC"
    # Zones without a letter abbreviation report "+0530"-style offsets: write them as UTC+05:30.
    if name[:1] in "+-":
        return f"UTC{name[:3]}:{name[3:5]}" if len(name) >= 5 else f"UTC{name}"
    return name


def relative(value: datetime | None, now: datetime | None = None) -> str:
    """ "in 3 h", "5 min ago", "just now"; whole days past two days."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = (value - (now or datetime.now(UTC))).total_seconds()
    ahead, span = seconds > 0, abs(seconds)
    if span < 45:
        return "just now" if not ahead else "in a moment"
    if span < 3600:
        amount = f"{max(1, round(span / 60))} min"
    elif span < 48 * 3600:
        amount = f"{round(span / 3600)} h"
    else:
        days = round(span / 86400)
        amount = f"{days} days"
    return f"in {amount}" if ahead else f"{amount} ago"


def context_zone(context: Context) -> str | None:
    """The zone of whoever the template is for: an explicit `time_zone` in the context (e-mails
    name their recipient's), else the signed-in user of the page's request."""
    if "time_zone" in context:
        return context["time_zone"]
    request = context.get("request")
    user = request.scope.get("user") if request is not None else None
    return getattr(user, "time_zone", None)


@pass_context
def local_filter(context: Context, value: datetime | None, style: str = "datetime") -> str:
    """{{ run.created_at|local }} → "4 Dec 2026, 09:15 CET"; |local("date"), |local("time")."""
    return format_local(value, context_zone(context), style)


def relative_filter(value: datetime | None) -> str:
    """{{ hook.expires_at|relative }} → "in 3 h"."""
    return relative(value)


FILTERS = {"local": local_filter, "relative": relative_filter}
