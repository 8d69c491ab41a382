"""The audit log of a space: one call, `record`, in the transaction of the change it records, from
whichever floor makes the change (engine commands, hooks, stores of templates, schedules, triggers,
connectors and members). Read and exported by the space's admins (docs/teams.md).

Actions are `<object>.<verb>`: run.start, run.cancel, run.retry, run.rerun, hook.decide,
template.save, template.delete, template.share, schedule.create, schedule.change, schedule.pause,
schedule.delete, trigger.create, trigger.change, trigger.delete, connector.change,
member.add, member.role, member.remove, invitation.send, invitation.revoke, team.change."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
RECORD = SQL["record"]
RECORD_MANY = SQL["record_many"]
ENTRIES = SQL["entries"]

ACTION_FILTER = re.compile(r"^[a-z_]{1,40}(\.[a-z_]{1,40})?$")  # "run" (every run.*) or "run.start"
ACTIONS = [
    "run.start",
    "run.cancel",
    "run.retry",
    "run.rerun",
    "hook.decide",
    "template.save",
    "template.delete",
    "template.share",
    "schedule.create",
    "schedule.change",
    "schedule.pause",
    "schedule.delete",
    "trigger.create",
    "trigger.change",
    "trigger.delete",
    "connector.change",
    "member.add",
    "member.role",
    "member.remove",
    "invitation.send",
    "invitation.revoke",
    "team.change",
]
KINDS = tuple(dict.fromkeys(a.split(".")[0] for a in ACTIONS))


async def record(
    conn: AsyncConnection,
    *,
    space_id: int,
    actor_id: int | None,
    action: str,
    object_kind: str,
    object_id: Any,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry to the space's audit log (`actor_id` None: the system, e.g. a schedule)."""
    await conn.execute(
        RECORD,
        {
            "space_id": space_id,
            "actor_id": actor_id,
            "action": action,
            "object_kind": object_kind,
            "object_id": str(object_id),
            "detail": Jsonb(detail or {}),
        },
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry for `record_many` (the fields of `record`)."""

    space_id: int
    actor_id: int | None
    action: str
    object_kind: str
    object_id: Any
    detail: dict[str, Any]


async def record_many(conn: AsyncConnection, entries: list[Entry]) -> None:
    """`record` for many entries in one statement (a batch of runs started together)."""
    if not entries:
        return
    await conn.execute(
        RECORD_MANY,
        {
            "space_ids": [e.space_id for e in entries],
            "actor_ids": [e.actor_id for e in entries],
            "actions": [e.action for e in entries],
            "object_kinds": [e.object_kind for e in entries],
            "object_ids": [str(e.object_id) for e in entries],
            "details": [Jsonb(e.detail) for e in entries],
        },
    )


@dataclass(frozen=True, slots=True)
class Filter:
    """What a reader of the log asks for; each None: any. `action` is a kind ("run") or an action
    ("run.start"); `actor` an e-mail address; `since`/`until` a half-open range of moments."""

    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class BadCursor(ValueError):
    pass


def encode_cursor(row: dict) -> str:
    return base64.urlsafe_b64encode(f"{row['at'].isoformat()}|{row['id']}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime | None, int | None]:
    if not cursor:
        return None, None
    try:
        at, entry_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        found = datetime.fromisoformat(at), int(entry_id)
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("not a cursor of the audit log") from None
    if found[0].tzinfo is None or not 0 < found[1] < 2**63:
        raise BadCursor("not a cursor of the audit log")
    return found


async def entries(
    conn: AsyncConnection,
    space_id: int,
    flt: Filter,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[dict], str | None]:
    """A page of the space's log, newest first, and the cursor of the next page (None: the last).
    Raises BadCursor for a cursor this function did not make."""
    after_at, after_id = decode_cursor(cursor)
    action = flt.action if flt.action and ACTION_FILTER.fullmatch(flt.action) else None
    prefix = action.replace("_", "\\_") + ".%" if action and "." not in action else None
    rows = await (
        await conn.execute(
            ENTRIES,
            {
                "space_id": space_id,
                "action": action,
                "action_prefix": prefix,
                "actor": (flt.actor or "").strip().lower() or None,
                "since": flt.since,
                "until": flt.until,
                "after_at": after_at,
                "after_id": after_id,
                "limit": limit + 1,
            },
        )
    ).fetchall()
    return rows[:limit], encode_cursor(rows[limit - 1]) if len(rows) > limit else None
