"""The audit log of a space: one call, `record`, in the transaction of the change it records, from
whichever floor makes the change (engine commands, hooks, stores of templates, schedules, triggers,
connectors and members). Read and exported by the space's admins (docs/teams.md).

Actions are `<object>.<verb>`: run.start, run.cancel, run.retry, run.rerun, hook.decide,
template.save, template.delete, template.share, schedule.create, schedule.change, schedule.pause,
schedule.delete, trigger.create, trigger.change, trigger.delete, connector.change,
member.add, member.role, member.remove, invitation.send, invitation.revoke, team.change."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
RECORD = SQL["record"]


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
