"""Triggers and their deliveries in SQL (store.sql). Every function a page or the API calls takes
the acting person and the space they act in (`space_id`; None: their personal space) and finds only
that space's triggers (None / False otherwise: the caller answers 404; roles are the caller's to
check). Changes are recorded in the space's audit log in their transaction. Only
`trigger_for_delivery` looks a trigger up by id alone, for the delivery endpoint, whose credential
is the trigger's secret."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from app.core import audit
from app.core.secrets_box import SecretBox
from app.core.sql_queries import load_queries
from app.triggers.secrets import AuthMode, new_secret

SQL = load_queries(__file__)
COUNT_TRIGGERS = SQL["count_triggers"]
LOCK_OWNER = SQL["lock_owner"]
INSERT_TRIGGER = SQL["insert_trigger"]
LIST_TRIGGERS = SQL["list_triggers"]
GET_TRIGGER = SQL["get_trigger"]
TRIGGER_FOR_DELIVERY = SQL["trigger_for_delivery"]
UPDATE_TRIGGER = SQL["update_trigger"]
SET_ENABLED = SQL["set_enabled"]
ROTATE_SECRET = SQL["rotate_secret"]
DELETE_TRIGGER = SQL["delete_trigger"]
RECORD_DELIVERY = SQL["record_delivery"]
TRIM_DELIVERIES = SQL["trim_deliveries"]
LIST_DELIVERIES = SQL["list_deliveries"]
MARK_RUN = SQL["mark_run"]

MAX_TRIGGERS = 100  # per person
MAX_NAME = 100
KEEP_DELIVERIES = 100  # per trigger: the page shows the last ones, older ones are dropped
DEFAULT_RATE = 60


class TriggerLimitReached(Exception):
    pass


def trigger_uuid(value: Any) -> str | None:
    """The id as a UUID string, or None for anything that is not one (it names no trigger)."""
    try:
        return str(UUID(str(value)))
    except ValueError:
        return None


def _mapping(mapping: dict[str, str] | None) -> Jsonb | None:
    return None if mapping is None else Jsonb(mapping)


async def _audit(conn: AsyncConnection, row: dict, actor_id: int, action: str, **detail) -> None:
    await audit.record(
        conn,
        space_id=row["space_id"],
        actor_id=actor_id,
        action=action,
        object_kind="trigger",
        object_id=row["id"],
        detail={"name": row["name"], **detail},
    )


async def create_trigger(
    conn: AsyncConnection,
    owner_id: int,
    box: SecretBox,
    *,
    name: str,
    workflow: str | None,
    mapping: dict[str, str] | None,
    auth_mode: AuthMode,
    template_id: int | None = None,
    rate_per_minute: int = DEFAULT_RATE,
    space_id: int | None = None,
) -> tuple[dict, str]:
    """The new trigger and its secret (to show once). It starts `workflow`, or the template `template_id`."""
    secret = new_secret(auth_mode, box)
    async with conn.transaction():
        await conn.execute(LOCK_OWNER, {"owner_id": owner_id})
        if (await (await conn.execute(COUNT_TRIGGERS, {"owner_id": owner_id})).fetchone())[
            "n"
        ] >= MAX_TRIGGERS:
            raise TriggerLimitReached(f"You have {MAX_TRIGGERS} triggers; delete one first.")
        row = await (
            await conn.execute(
                INSERT_TRIGGER,
                {
                    "owner_id": owner_id,
                    "space_id": space_id,
                    "name": name,
                    "workflow": workflow,
                    "template_id": template_id,
                    "mapping": _mapping(mapping),
                    "auth_mode": auth_mode,
                    "secret": secret.stored,
                    "hint": secret.hint,
                    "rate_per_minute": rate_per_minute,
                },
            )
        ).fetchone()
        await _audit(conn, row, owner_id, "trigger.create")
    return row, secret.plain


async def list_triggers(
    conn: AsyncConnection, owner_id: int, *, space_id: int | None = None
) -> list[dict]:
    params = {"owner_id": owner_id, "space_id": space_id}
    return await (await conn.execute(LIST_TRIGGERS, params)).fetchall()


async def get_trigger(
    conn: AsyncConnection, trigger_id: Any, owner_id: int, *, space_id: int | None = None
) -> dict | None:
    found = trigger_uuid(trigger_id)
    if found is None:
        return None
    params = {"id": found, "owner_id": owner_id, "space_id": space_id}
    return await (await conn.execute(GET_TRIGGER, params)).fetchone()


async def trigger_for_delivery(conn: AsyncConnection, trigger_id: Any) -> dict | None:
    found = trigger_uuid(trigger_id)
    if found is None:
        return None
    return await (await conn.execute(TRIGGER_FOR_DELIVERY, {"id": found})).fetchone()


async def update_trigger(
    conn: AsyncConnection,
    trigger_id: Any,
    owner_id: int,
    *,
    name: str,
    workflow: str | None,
    mapping: dict[str, str] | None,
    rate_per_minute: int,
    template_id: int | None = None,
    space_id: int | None = None,
) -> dict | None:
    found = trigger_uuid(trigger_id)
    if found is None:
        return None
    async with conn.transaction():
        row = await (
            await conn.execute(
                UPDATE_TRIGGER,
                {
                    "id": found,
                    "owner_id": owner_id,
                    "space_id": space_id,
                    "name": name,
                    "workflow": workflow,
                    "template_id": template_id,
                    "mapping": _mapping(mapping),
                    "rate_per_minute": rate_per_minute,
                },
            )
        ).fetchone()
        if row:
            await _audit(conn, row, owner_id, "trigger.change")
    return row


async def set_enabled(
    conn: AsyncConnection,
    trigger_id: Any,
    owner_id: int,
    enabled: bool,
    *,
    space_id: int | None = None,
) -> dict | None:
    found = trigger_uuid(trigger_id)
    if found is None:
        return None
    params = {"id": found, "owner_id": owner_id, "space_id": space_id, "enabled": enabled}
    async with conn.transaction():
        row = await (await conn.execute(SET_ENABLED, params)).fetchone()
        if row:
            await _audit(conn, row, owner_id, "trigger.change", enabled=enabled)
    return row


async def rotate_secret(
    conn: AsyncConnection,
    trigger_id: Any,
    owner_id: int,
    box: SecretBox,
    auth_mode: AuthMode,
    *,
    space_id: int | None = None,
) -> tuple[dict, str] | None:
    """The trigger with a new secret (the old one stops working at once) and that secret, to show once."""
    found = trigger_uuid(trigger_id)
    if found is None:
        return None
    secret = new_secret(auth_mode, box)
    async with conn.transaction():
        row = await (
            await conn.execute(
                ROTATE_SECRET,
                {
                    "id": found,
                    "owner_id": owner_id,
                    "space_id": space_id,
                    "auth_mode": auth_mode,
                    "secret": secret.stored,
                    "hint": secret.hint,
                },
            )
        ).fetchone()
        if row:
            await _audit(conn, row, owner_id, "trigger.change", secret="rotated")
    return (row, secret.plain) if row else None


async def delete_trigger(
    conn: AsyncConnection, trigger_id: Any, owner_id: int, *, space_id: int | None = None
) -> bool:
    found = trigger_uuid(trigger_id)
    if found is None:
        return False
    params = {"id": found, "owner_id": owner_id, "space_id": space_id}
    async with conn.transaction():
        row = await (await conn.execute(DELETE_TRIGGER, params)).fetchone()
        if row:
            await _audit(conn, row, owner_id, "trigger.delete")
    return row is not None


async def record_delivery(
    conn: AsyncConnection,
    trigger_id: Any,
    status: int,
    *,
    run_id: Any = None,
    replayed: bool = False,
    message: str | None = None,
) -> None:
    params = {
        "trigger_id": trigger_id,
        "status": status,
        "run_id": run_id,
        "replayed": replayed,
        "message": message[:500] if message else None,
    }
    await conn.execute(RECORD_DELIVERY, params)
    await conn.execute(TRIM_DELIVERIES, {"trigger_id": trigger_id, "keep": KEEP_DELIVERIES})


async def deliveries(conn: AsyncConnection, trigger_id: Any, limit: int = 20) -> list[dict]:
    return await (
        await conn.execute(LIST_DELIVERIES, {"trigger_id": trigger_id, "limit": limit})
    ).fetchall()


async def mark_run(conn: AsyncConnection, run_id: Any, trigger: dict) -> None:
    await conn.execute(
        MARK_RUN, {"run_id": run_id, "trigger_id": trigger["id"], "trigger_name": trigger["name"]}
    )
