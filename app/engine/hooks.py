"""Hooks: a run waiting for a person or an external system.

A hook is decided at most once: `resolve_hook` locks the hook row, and only a `waiting`, unexpired
hook accepts an answer. The answer completes the journal entry and queues the run in the same
transaction, so a decision can never be saved without the run resuming (or the reverse).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from app.core.sql_queries import load_queries
from app.engine import signals
from app.engine.errors import AlreadyDecided, HookExpired, HookNotFound, InvalidAction, InvalidState
from app.engine.jobs import defer_hook_reminder, wake_run
from app.engine.journal import write_step
from app.engine.values import HOOK_ACTIONS, HookResult

if TYPE_CHECKING:
    from app.engine.run import Run

SQL = load_queries(__file__)
INSERT_HOOK = SQL["insert_hook"]
EXPIRE_HOOK = SQL["expire_hook"]
JOURNAL_ENTRY = SQL["journal_entry"]
LOCK_HOOK = SQL["lock_hook"]
DECIDE_HOOK = SQL["decide_hook"]
COMPLETE_HOOK_STEP = SQL["complete_hook_step"]
QUEUE_RUN = SQL["queue_run"]
GET_HOOK = SQL["get_hook"]


def new_token() -> str:
    """32 random bytes, URL-safe; never starting with '-' or '_', so it is never read as a command-line
    option (`baton hooks resolve TOKEN`) and survives being double-clicked in an email."""
    while True:
        token = secrets.token_urlsafe(32)
        if token[0].isalnum():
            return token


def _seconds(value: timedelta | float | None) -> timedelta | None:
    if value is None:
        return None
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


async def create_hook(
    conn: AsyncConnection,
    run: Run,
    seq: int,
    name: str,
    kind: str,
    *,
    show,
    timeout,
    remind_before,
    assignee,
    actions,
    secret,
) -> dict[str, Any]:
    if kind not in HOOK_ACTIONS:
        raise ValueError(f"hook kind must be one of {', '.join(HOOK_ACTIONS)}")
    now = datetime.now(UTC)
    timeout, remind_before = _seconds(timeout), _seconds(remind_before)
    expires_at = now + timeout if timeout else None
    remind_at = expires_at - remind_before if expires_at and remind_before else None
    if remind_at and remind_at <= now:
        remind_at = None
    hook = await (
        await conn.execute(
            INSERT_HOOK,
            {
                "run_id": run.id,
                "seq": seq,
                "owner_id": run.owner_id,
                "token": new_token(),
                "name": name,
                "kind": kind,
                "actions": list(actions or HOOK_ACTIONS[kind]),
                "show": Jsonb(show) if show is not None else None,
                "assignee": assignee.strip().lower() if assignee else None,
                "secret": secret,
                "expires_at": expires_at,
                "remind_at": remind_at,
            },
        )
    ).fetchone()
    await write_step(
        conn,
        run_id=run.id,
        owner_id=run.owner_id,
        seq=seq,
        name=name,
        kind="hook",
        status="waiting",
        detail={"hook_id": hook["id"]},
        wake_at=expires_at,
        event="hook_waiting",
        event_data={
            "seq": seq,
            "name": name,
            "hook_id": hook["id"],
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    if remind_at:
        await defer_hook_reminder(conn, hook["id"], remind_at)
    await signals.emit(signals.hook_waiting, conn, hook)
    return hook


async def expire_hook(
    conn: AsyncConnection, run: Run, seq: int, name: str, hook: dict | None
) -> HookResult:
    """The hook's time is up: answer the workflow with a timed-out result, unless a decision got in
    first (then that decision stands)."""
    async with conn.transaction():
        expired = hook and await (await conn.execute(EXPIRE_HOOK, {"id": hook["id"]})).fetchone()
        if not expired:
            entry = await (
                await conn.execute(JOURNAL_ENTRY, {"run_id": run.id, "seq": seq})
            ).fetchone()
            if entry and entry["status"] == "completed":
                return HookResult.from_json(entry["output"])
        result = HookResult(action=None, timed_out=True, hook_id=hook["id"] if hook else None)
        await write_step(
            conn,
            run_id=run.id,
            owner_id=run.owner_id,
            seq=seq,
            name=name,
            kind="hook",
            status="completed",
            output=result.to_json(),
            completed_at=datetime.now(UTC),
            done=1,
            event="hook_expired",
            event_data={"seq": seq, "name": name},
        )
    return result


async def resolve_hook(
    conn: AsyncConnection,
    token: str,
    action: str,
    data: dict | None = None,
    *,
    decided_by: str | None = None,
    owner_id: int | None = None,
) -> dict[str, Any]:
    """Decide a waiting hook exactly once and queue its run. With `owner_id`, a hook of another
    user is reported as not found. Returns the decided hook row."""
    async with conn.transaction():
        hook = await (await conn.execute(LOCK_HOOK, {"token": token})).fetchone()
        if hook is None or (owner_id is not None and hook["owner_id"] != owner_id):
            raise HookNotFound("no such hook")
        if hook["status"] == "resolved":
            raise AlreadyDecided(
                f"already decided ({hook['action']}) by {hook['decided_by'] or 'someone'}"
            )
        now = datetime.now(UTC)
        if hook["status"] == "expired" or (hook["expires_at"] and hook["expires_at"] <= now):
            raise HookExpired("this request expired before it was answered")
        if (
            hook["status"] == "cancelled"
            or hook["run_status"] in ("cancelled", "failed", "completed")
            or hook["cancel_requested"]
        ):
            raise InvalidState("the run this hook belongs to has ended")
        if action not in hook["actions"]:
            raise InvalidAction(f"action must be one of {', '.join(hook['actions'])}")
        data = data or {}
        await conn.execute(
            DECIDE_HOOK,
            {
                "id": hook["id"],
                "action": action,
                "data": Jsonb(data),
                "decided_by": decided_by,
                "decided_at": now,
            },
        )
        result = HookResult(
            action=action, data=data, decided_by=decided_by, decided_at=now, hook_id=hook["id"]
        )
        await conn.execute(
            COMPLETE_HOOK_STEP,
            {"run_id": hook["run_id"], "seq": hook["seq"], "output": Jsonb(result.to_json())},
        )
        await conn.execute(
            QUEUE_RUN,
            {
                "run_id": hook["run_id"],
                "event": Jsonb(
                    {
                        "seq": hook["seq"],
                        "name": hook["name"],
                        "hook_id": hook["id"],
                        "action": action,
                        "decided_by": decided_by,
                    }
                ),
            },
        )
        await wake_run(conn, hook["run_id"])
    return await (await conn.execute(GET_HOOK, {"id": hook["id"]})).fetchone()


async def send_hook_reminder(conn: AsyncConnection, hook_id: int) -> bool:
    """Run the reminder callbacks once, if the hook is still waiting."""
    async with conn.transaction():
        hook = await (
            await conn.execute(
                "UPDATE hooks SET reminded_at = now() WHERE id = %(id)s AND status = 'waiting' "
                "AND reminded_at IS NULL RETURNING *",
                {"id": hook_id},
            )
        ).fetchone()
        if hook:
            await signals.emit(signals.hook_reminder, conn, hook)
    return hook is not None
