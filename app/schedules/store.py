"""The schedules of a space: create, edit, pause and resume, run now, backfill, delete. Every
function takes the acting person (None: an operator, the CLI without --as) and the space they act in
(`space_id`; None: their personal space), and treats another space's schedule as missing
(ScheduleNotFound: the web answers 404). Roles are checked by the callers (app/core/policy.py);
changes are recorded in the space's audit log, in their transaction.

Each change is one transaction that also arms the next fire (firing.arm), so a saved schedule is
never left without its wake-up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from app.core import audit
from app.core.sql_queries import load_queries
from app.engine.errors import EngineError, InvalidState, QuotaExceeded
from app.schedules.drafts import Draft
from app.schedules.firing import Fired, arm, fire, spec_of, upcoming
from app.schedules.spec import fires_between

SQL = load_queries(__file__)
INSERT_SCHEDULE = SQL["insert_schedule"]
UPDATE_SCHEDULE = SQL["update_schedule"]
LOCK_OWN_SCHEDULE = SQL["lock_own_schedule"]
SET_NEXT = SQL["set_next"]
SET_PAUSED = SQL["set_paused"]
DELETE_SCHEDULE = SQL["delete_schedule"]
GET_SCHEDULE = SQL["get_schedule"]
LIST_SCHEDULES = SQL["list_schedules"]
RECENT_FIRES = SQL["recent_fires"]
OWNER_ZONE = SQL["owner_zone"]
SET_BUFFERED = SQL["set_buffered"]
PERSONAL_SPACE = SQL["personal_space"]
TAKE_OVER = SQL["take_over"]

MAX_BACKFILL = 100


class ScheduleNotFound(EngineError):
    code = "not_found"


class BackfillInvalid(EngineError):
    code = "invalid_input"


def _id(schedule_id: Any) -> str:
    try:
        return str(UUID(str(schedule_id)))
    except ValueError:
        raise ScheduleNotFound("no such schedule") from None


def _values(draft: Draft) -> dict:
    return {
        "name": draft.name,
        "workflow": draft.workflow,
        "template_id": draft.template_id,
        "input": Jsonb(draft.input),
        "cron": draft.cron,
        "every_s": draft.every_s,
        "time_zone": draft.time_zone,
        "starts_at": draft.starts_at,
        "ends_at": draft.ends_at,
        "overlap": draft.overlap,
        "catch_up": draft.catch_up,
        "catch_up_window_s": draft.catch_up_window_s,
        "pause_after_failures": draft.pause_after_failures,
    }


async def owner_zone(conn: AsyncConnection, owner_id: int) -> str | None:
    row = await (await conn.execute(OWNER_ZONE, {"owner_id": owner_id})).fetchone()
    return row["time_zone"] if row else None


async def _space(conn: AsyncConnection, owner_id: int | None, space_id: int | None) -> int | None:
    """The space a call acts in: `space_id`, else the person's personal space (None: an operator)."""
    if space_id is not None or owner_id is None:
        return space_id
    row = await (await conn.execute(PERSONAL_SPACE, {"owner_id": owner_id})).fetchone()
    return row["id"] if row else -1


async def _audit(
    conn: AsyncConnection, row: dict, actor_id: int | None, action: str, **detail
) -> None:
    await audit.record(
        conn,
        space_id=row["space_id"],
        actor_id=actor_id,
        action=action,
        object_kind="schedule",
        object_id=row["id"],
        detail={"name": row["name"], **detail},
    )


async def _lock(
    conn: AsyncConnection, schedule_id: Any, owner_id: int | None, space_id: int | None = None
) -> dict:
    params = {"id": _id(schedule_id), "space_id": await _space(conn, owner_id, space_id)}
    row = await (await conn.execute(LOCK_OWN_SCHEDULE, params)).fetchone()
    if row is None:
        raise ScheduleNotFound("no such schedule")
    return row


async def _rearm(conn: AsyncConnection, row: dict, now: datetime) -> dict:
    following = upcoming(row, now)
    row = await (
        await conn.execute(SET_NEXT, {"id": row["id"], "next_fire_at": following})
    ).fetchone()
    await arm(conn, following)
    return row


async def create_schedule(
    conn: AsyncConnection, owner_id: int, draft: Draft, *, space_id: int | None = None
) -> dict:
    """A new schedule of the space (None: the owner's personal one); its fires run as `owner_id`."""
    async with conn.transaction():
        row = await (
            await conn.execute(
                INSERT_SCHEDULE, {"owner_id": owner_id, "space_id": space_id, **_values(draft)}
            )
        ).fetchone()
        await _audit(conn, row, owner_id, "schedule.create")
        return await _rearm(conn, row, row["created_at"])


async def update_schedule(
    conn: AsyncConnection,
    schedule_id: Any,
    owner_id: int | None,
    draft: Draft,
    *,
    space_id: int | None = None,
) -> dict:
    async with conn.transaction():
        locked = await _lock(conn, schedule_id, owner_id, space_id)
        row = await (
            await conn.execute(UPDATE_SCHEDULE, {"id": locked["id"], **_values(draft)})
        ).fetchone()
        await _audit(conn, row, owner_id, "schedule.change")
        return await _rearm(conn, row, locked["db_now"])


async def get_schedule(
    conn: AsyncConnection, schedule_id: Any, owner_id: int | None, *, space_id: int | None = None
) -> dict:
    params = {"id": _id(schedule_id), "space_id": await _space(conn, owner_id, space_id)}
    row = await (await conn.execute(GET_SCHEDULE, params)).fetchone()
    if row is None:
        raise ScheduleNotFound("no such schedule")
    return row


async def list_schedules(
    conn: AsyncConnection, owner_id: int | None, limit: int = 500, *, space_id: int | None = None
) -> list[dict]:
    params = {"space_id": await _space(conn, owner_id, space_id), "limit": limit}
    return await (await conn.execute(LIST_SCHEDULES, params)).fetchall()


async def recent_fires(conn: AsyncConnection, schedule_id: Any, limit: int = 20) -> list[dict]:
    return await (
        await conn.execute(RECENT_FIRES, {"id": _id(schedule_id), "limit": limit})
    ).fetchall()


async def pause_schedule(
    conn: AsyncConnection,
    schedule_id: Any,
    owner_id: int | None,
    note: str | None = None,
    *,
    space_id: int | None = None,
) -> dict:
    async with conn.transaction():
        row = await _lock(conn, schedule_id, owner_id, space_id)
        note = " ".join((note or "").split())[:500] or None
        row = await (
            await conn.execute(
                SET_PAUSED, {"id": row["id"], "paused": True, "note": note, "next_fire_at": None}
            )
        ).fetchone()
        await _audit(conn, row, owner_id, "schedule.pause", paused=True)
        return row


async def resume_schedule(
    conn: AsyncConnection, schedule_id: Any, owner_id: int | None, *, space_id: int | None = None
) -> dict:
    """Fires resume from now on: what fell due while paused is not run."""
    async with conn.transaction():
        row = await _lock(conn, schedule_id, owner_id, space_id)
        following = upcoming(row | {"paused": False}, row["db_now"])
        row = await (
            await conn.execute(
                SET_PAUSED,
                {"id": row["id"], "paused": False, "note": None, "next_fire_at": following},
            )
        ).fetchone()
        await _audit(conn, row, owner_id, "schedule.pause", paused=False)
        await arm(conn, following)
        return row


async def delete_schedule(
    conn: AsyncConnection, schedule_id: Any, owner_id: int | None, *, space_id: int | None = None
) -> None:
    params = {"id": _id(schedule_id), "space_id": await _space(conn, owner_id, space_id)}
    async with conn.transaction():
        row = await (await conn.execute(DELETE_SCHEDULE, params)).fetchone()
        if row is None:
            raise ScheduleNotFound("no such schedule")
        await _audit(conn, row, owner_id, "schedule.delete")


async def trigger_schedule(
    conn: AsyncConnection, schedule_id: Any, owner_id: int | None, *, space_id: int | None = None
) -> Fired:
    """Run now: one fire at this moment, whatever the overlap policy (the person asked for a run).
    The run is the clicker's (`owner_id`: its owner, the actor of its run.start entry, and the
    one whose role must allow starting runs), not the schedule owner's; the operator's CLI
    (`owner_id` None) starts it as the schedule's owner. Raises the engine's error when no run
    starts (quota, a broken target), like any start."""
    async with conn.transaction():
        row = await _lock(conn, schedule_id, owner_id, space_id)
        fired = await fire(
            conn, row, row["db_now"], kind="manual", overlap="allow-all", starter_id=owner_id
        )
    if fired.outcome == "skipped: quota":
        raise QuotaExceeded(fired.detail or "monthly workflow limit reached")
    if fired.outcome != "started":
        raise InvalidState(
            f"no run started: {fired.outcome}" + (f" ({fired.detail})" if fired.detail else "")
        )
    return fired


async def take_over_schedule(
    conn: AsyncConnection, schedule_id: Any, admin_id: int, *, space_id: int
) -> dict:
    """A team admin makes a schedule of the team theirs (the caller checks the admin's role):
    for a schedule whose owner left the team, which paused itself (app/schedules/firing.py).
    Audited as schedule.change, naming the previous owner."""
    async with conn.transaction():
        locked = await _lock(conn, schedule_id, admin_id, space_id)
        if locked["owner_id"] == admin_id:
            return locked
        row = await (
            await conn.execute(TAKE_OVER, {"id": locked["id"], "owner_id": admin_id})
        ).fetchone()
        await _audit(conn, row, admin_id, "schedule.change", taken_over_from=locked["owner_id"])
        return row


async def backfill_schedule(
    conn: AsyncConnection,
    schedule_id: Any,
    owner_id: int | None,
    *,
    start: datetime,
    end: datetime,
    overlap: str,
    space_id: int | None = None,
) -> list[Fired]:
    """The fires the spec had between `start` and `end` (both past), made now, oldest first, with
    `overlap` deciding what happens while one of them still runs. A fire already made is not
    repeated (its unique key)."""
    async with conn.transaction():
        row = await _lock(conn, schedule_id, owner_id, space_id)
        if end <= start:
            raise BackfillInvalid("the end of a backfill is after its start")
        if end > row["db_now"]:
            raise BackfillInvalid("a backfill covers the past: its end is not in the future")
        moments = fires_between(spec_of(row), start, end, MAX_BACKFILL + 1)
        if len(moments) > MAX_BACKFILL:
            raise BackfillInvalid(
                f"a backfill makes at most {MAX_BACKFILL} fires; shorten the range"
            )
        buffered = row["buffered_fire_at"]
        results = []
        for moment in moments:
            fired = await fire(
                conn, row, moment, kind="backfill", overlap=overlap, buffered=buffered
            )
            if fired.outcome == "buffered":
                buffered = moment
            results.append(fired)
        if buffered != row["buffered_fire_at"]:
            await conn.execute(SET_BUFFERED, {"buffered_fire_at": buffered, "id": row["id"]})
        return results
