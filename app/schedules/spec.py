"""When a schedule fires: a cron expression (5 fields, or an `@daily`-style alias) read in an IANA
time zone, or a fixed interval ("every 6 hours"). Parsing and iteration are croniter's; the words
are cron-descriptor's. Nothing here touches the database.

Daylight saving, for cron specs: fires are the expression's *wall-clock* times in the zone, each
wall time at most once a day, so
- a time the clocks skip (02:30 on the spring-forward night) fires once, at the same distance past
  the jump (03:30): the schedule does not lose its day;
- a time that happens twice (01:30 on the fall-back night) fires once, at its first occurrence.
Intervals are elapsed time and ignore the clock: `every 1d` is 24 hours, also across a change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cron_descriptor import FormatError, Options, get_description
from croniter import CroniterBadCronError, CroniterBadDateError, croniter

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MAX_CRON = 200
MIN_EVERY_S, MAX_EVERY_S = 1, 366 * 86400
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
UNIT_WORDS = {"d": "day", "h": "hour", "m": "minute", "s": "second"}
_DURATION = re.compile(r"^(?:\d{1,9}[smhd])+$")
_PART = re.compile(r"(\d+)([smhd])")
# A cron expression that matches only a few wall times a year still finds one within this many
# candidates; the bound only stops a pathological loop (e.g. a minute-by-minute spec in a repeated hour).
_MAX_CANDIDATES = 10_000


class BadSpec(ValueError):
    """The spec cannot be used; the message is for the person who wrote it."""


@dataclass(frozen=True)
class Spec:
    cron: str | None = None
    every_s: int | None = None
    zone: str = "UTC"
    anchor: datetime | None = None  # interval fires fall at anchor + k * every_s

    @property
    def text(self) -> str:
        """As the person wrote it: the cron expression, or the interval ("15m")."""
        return self.cron if self.cron else duration_text(self.every_s or 0)


def parse_every(text: str) -> int:
    """ "90s", "15m", "6h", "1d", "1h30m" → seconds."""
    compact = (text or "").strip().lower().replace(" ", "")
    if not _DURATION.match(compact):
        raise BadSpec("Write an interval as a number and a unit: 30s, 15m, 6h, 1d (or 1h30m).")
    seconds = sum(int(n) * UNITS[u] for n, u in _PART.findall(compact))
    if not MIN_EVERY_S <= seconds <= MAX_EVERY_S:
        raise BadSpec("An interval is between 1 second and 366 days.")
    return seconds


def duration_text(seconds: int) -> str:
    """12600 → "3h30m" (the form parse_every reads)."""
    parts = []
    for unit in "dhms":
        n, seconds = divmod(seconds, UNITS[unit])
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts) or "0s"


def parse_cron(text: str) -> str:
    """The expression, whitespace tidied, if croniter reads it as 5 fields (or an alias)."""
    expr = " ".join((text or "").split())
    if not expr:
        raise BadSpec("Write a cron expression, e.g. “0 9 * * 1-5” (9:00 on weekdays) or “@daily”.")
    if len(expr) > MAX_CRON:
        raise BadSpec(f"A cron expression has at most {MAX_CRON} characters.")
    if expr.startswith("@"):
        if expr.lower() not in ALIASES:
            raise BadSpec(f"Unknown alias “{expr}”: use one of {', '.join(ALIASES)}.")
        return expr.lower()
    if len(expr.split(" ")) != 5:
        raise BadSpec("A cron expression has 5 fields: minute hour day-of-month month day-of-week.")
    try:
        croniter(expr)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise BadSpec(f"Not a cron expression croniter can read: {exc}.") from None
    return expr


def make_spec(
    *,
    cron: str | None = None,
    every: str | None = None,
    every_s: int | None = None,
    zone: str = "UTC",
    anchor: datetime | None = None,
) -> Spec:
    """Exactly one of cron / every (text) / every_s. Raises BadSpec."""
    if bool(cron) + bool(every) + bool(every_s) != 1:
        raise BadSpec("Give either a cron expression or an interval.")
    if cron:
        spec = Spec(cron=parse_cron(cron), zone=zone)
    else:
        spec = Spec(every_s=every_s or parse_every(every or ""), zone=zone, anchor=anchor)
    try:
        next_fire(spec, datetime.now(UTC))
    except CroniterBadDateError:
        raise BadSpec("This expression never matches a real date.") from None
    return spec


def describe(spec: Spec) -> str:
    """ "At 09:00, Monday through Friday (Europe/Paris)", "Every 6 hours"."""
    if spec.every_s:
        return "Every " + _every_words(spec.every_s)
    expr = ALIASES.get(spec.cron or "", spec.cron or "")
    try:
        words = _describe_cron(expr)
    except (FormatError, ValueError):
        words = expr
    return f"{words} ({spec.zone})"


def _describe_cron(expr: str) -> str:
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    return get_description(expr, options)


def _every_words(seconds: int) -> str:
    parts = []
    for unit in "dhms":
        n, seconds = divmod(seconds, UNITS[unit])
        if n:
            parts.append(f"{n} {UNIT_WORDS[unit]}{'s' if n != 1 else ''}")
    if len(parts) == 1 and parts[0].startswith("1 "):
        return parts[0][2:]  # "every hour", not "every 1 hour"
    return " ".join(parts)


def next_fire(spec: Spec, after: datetime) -> datetime:
    """The first fire strictly after `after` (aware), in UTC."""
    after = after.astimezone(UTC)
    if spec.every_s:
        anchor = (spec.anchor or datetime(2000, 1, 1, tzinfo=UTC)).astimezone(UTC)
        if after < anchor:
            return anchor
        periods = int((after - anchor).total_seconds() // spec.every_s) + 1
        return anchor + timedelta(seconds=periods * spec.every_s)
    zone = ZoneInfo(spec.zone)
    # Iterate wall-clock times with no zone attached, then place each in the zone (fold=0: the first
    # of a repeated time; a skipped time lands after the jump). A wall time already passed in
    # absolute terms (the repeated hour) is skipped, so each wall time fires once.
    wall = after.astimezone(zone).replace(tzinfo=None, fold=0)
    candidates = croniter(ALIASES.get(spec.cron or "", spec.cron), wall)
    for _ in range(_MAX_CANDIDATES):
        local = candidates.get_next(datetime).replace(tzinfo=zone)
        moment = local.astimezone(UTC)
        if moment > after:
            return moment
    raise CroniterBadDateError("no fire found")


def fires_between(spec: Spec, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """Fires at or after `start` and at or before `end`, at most `limit` (the earliest)."""
    out: list[datetime] = []
    moment = next_fire(spec, start - timedelta(microseconds=1))
    while moment <= end and len(out) < limit:
        out.append(moment)
        moment = next_fire(spec, moment)
    return out


def last_fire_at_or_before(spec: Spec, start: datetime, end: datetime) -> datetime | None:
    """The latest fire in [start, end], or None; cheap even for a long gap of a short interval."""
    if spec.every_s:
        anchor = (spec.anchor or datetime(2000, 1, 1, tzinfo=UTC)).astimezone(UTC)
        if end < anchor:
            return None
        moment = anchor + timedelta(
            seconds=int((end - anchor).total_seconds() // spec.every_s) * spec.every_s
        )
        return moment if moment >= start else None
    # Cron: look back over a window twice as long each time until it holds a fire.
    window = timedelta(days=1)
    while True:
        found = fires_between(spec, max(end - window, start), end, _MAX_CANDIDATES)
        if found or end - window <= start:
            return found[-1] if found else None
        window *= 2
