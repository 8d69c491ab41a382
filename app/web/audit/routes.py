"""The audit log page and its CSV export. Parse the filters → find the space (the current one, or
`?team=SLUG` among the reader's teams: another team is 404) → require AUDIT (403) → read a page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from litestar import Request, Router, get
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromQuery
from litestar.response import Stream, Template
from psycopg_pool import AsyncConnectionPool

from app.core import audit
from app.core.local_time import zone_of
from app.core.policy import Action, Space
from app.spaces.store import team_by_slug
from app.web.audit.csv_rows import csv_lines
from app.web.auth import requires_login
from app.web.errors import NotFound

PAGE = 50
EXPORT_BATCH = 1000
MAX_TEXT = 254


class TeamNotFound(NotFound):
    pass


@dataclass(frozen=True)
class Query:
    """The page's filters as typed (shown back in the form) and as the log reads them."""

    team: str
    action: str
    actor: str
    since: str
    until: str

    def filter(self, zone: str | None) -> audit.Filter:
        return audit.Filter(
            action=self.action or None,
            actor=self.actor or None,
            since=_day_start(self.since, zone),
            until=_day_start(self.until, zone, next_day=True),
        )

    def params(self, **more: str) -> str:
        values = {
            "team": self.team,
            "action": self.action,
            "actor": self.actor,
            "since": self.since,
            "until": self.until,
        }
        return urlencode({k: v for k, v in (values | more).items() if v})


def _clean(value: str | None) -> str:
    return "".join(ch for ch in (value or "") if ch.isprintable()).strip()[:MAX_TEXT]


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _day_start(value: str, zone: str | None, *, next_day: bool = False) -> datetime | None:
    """A day typed in the form, read in the reader's zone: its first moment (or the next day's,
    so "until 4 Dec" includes all of 4 Dec)."""
    day = _day(value)
    if day is None:
        return None
    if next_day:
        if day == date.max:
            return None
        day += timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=zone_of(zone))


def _query(team: str, action: str, actor: str, since: str, until: str) -> Query:
    action = _clean(action)
    since, until = _clean(since), _clean(until)
    return Query(
        team=_clean(team),
        action=action if audit.ACTION_FILTER.fullmatch(action) else "",
        actor=_clean(actor).lower(),
        since=since if _day(since) else "",
        until=until if _day(until) else "",
    )


async def _space(conn, request: Request, slug: str) -> Space:
    user = request.user
    space = user.space
    if slug:
        space = await team_by_slug(conn, user.id, slug)
        if space is None:
            raise TeamNotFound("No team of yours has this name.")
    if space is None or not space.allows(Action.AUDIT):
        raise PermissionDeniedException("Only the team's admins and owners can read its audit log.")
    return space


@get("/")
async def audit_page(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    team: FromQuery[str] = "",
    action: FromQuery[str] = "",
    actor: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
    cursor: FromQuery[str] = "",
) -> Template:
    q = _query(team, action, actor, since, until)
    zone = request.user.time_zone
    async with pool.connection() as conn:
        space = await _space(conn, request, q.team)
        try:
            rows, next_cursor = await audit.entries(
                conn, space.id, q.filter(zone), cursor=cursor[:200] or None, limit=PAGE
            )
        except audit.BadCursor:
            rows, next_cursor = await audit.entries(conn, space.id, q.filter(zone), limit=PAGE)
    return Template(
        "pages/audit/index.html",
        context={
            "space": space,
            "q": q,
            "rows": rows,
            "next_url": f"/audit?{q.params(cursor=next_cursor)}" if next_cursor else None,
            "first_url": f"/audit?{q.params()}" if cursor else None,
            "export_url": f"/audit/export.csv?{q.params()}",
            "kinds": audit.KINDS,
            "actions": audit.ACTIONS,
        },
    )


@get("/export.csv")
async def export_csv(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    team: FromQuery[str] = "",
    action: FromQuery[str] = "",
    actor: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
) -> Stream:
    """The whole filtered log, streamed in batches (never all of it in memory)."""
    q = _query(team, action, actor, since, until)
    zone = request.user.time_zone
    async with pool.connection() as conn:
        space = await _space(conn, request, q.team)
    flt = q.filter(zone)

    async def lines() -> AsyncIterator[str]:
        cursor, first = None, True
        while True:
            async with pool.connection() as conn:
                rows, cursor = await audit.entries(
                    conn, space.id, flt, cursor=cursor, limit=EXPORT_BATCH
                )
            yield csv_lines(rows, zone, header=first)
            first = False
            if cursor is None:
                return

    name = f"audit-{space.slug or 'personal'}-{date.today().isoformat()}.csv"
    return Stream(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


router = Router(path="/audit", guards=[requires_login], route_handlers=[audit_page, export_csv])
