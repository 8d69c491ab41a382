"""Hooks: a run waiting for a person or an external system.

A hook is decided at most once: `resolve_hook` locks the hook row, and only a `waiting`, unexpired
hook accepts an answer. The answer completes the journal entry and queues the run in the same
transaction, so a decision can never be saved without the run resuming (or the reverse).

Who a hook waits for (docs/teams.md, "Approvals"): a person by e-mail (`assignee`), a role of the
run's team (`assign_role`: any member, any admin, the owners) or, by default, the run's owner. A
review may need `required` approvals from different people. Every decision is a row of
`hook_decisions` (one per person, written under the hook's lock, with its audit entry): an
approval that is not yet the last one needed leaves the hook waiting (and the run asleep); the
last approval, or any other answer (one rejection rejects), resolves it, once.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from app.core import audit
from app.core.policy import ASSIGNABLE_ROLES, may_decide
from app.core.sql_queries import load_queries
from app.engine import signals
from app.engine.errors import AlreadyDecided, HookExpired, HookNotFound, InvalidAction, InvalidState
from app.engine.jobs import defer_hook_reminder
from app.engine.journal import write_step
from app.engine.rows import HookAfterDecision, HookRow, HookToDecide, ReviewHook, WaitingHook
from app.engine.values import HOOK_ACTIONS, HookResult

if TYPE_CHECKING:
    from app.engine.run import Run

SQL = load_queries(__file__)
INSERT_HOOK = SQL["insert_hook"]
CLAIM_REMINDER = SQL["claim_reminder"]
EXPIRE_HOOK = SQL["expire_hook"]
JOURNAL_ENTRY = SQL["journal_entry"]
LOCK_HOOK = SQL["lock_hook"]
QUEUE_RUN = SQL["queue_run"]
GET_HOOK = SQL["get_hook"]
RUN_SPACE_KIND = SQL["run_space_kind"]
INSERT_DECISION = SQL["insert_decision"]
DECISION_EVENT = SQL["decision_event"]
HOOK_FOR_DECIDER = SQL["hook_for_decider"]
WAITING_FOR_USER = SQL["waiting_for_user"]
MAX_REQUIRED = 20


def who_decides(hook: HookToDecide | ReviewHook | WaitingHook) -> str:
    """Who the hook waits for, in words: "any admin of Acme", "ana@example.com", the owner."""
    if hook.assigned_role:
        where = f" of {hook.space_name}" if hook.space_name else ""
        role = "owner" if hook.assigned_role == "owner" else f"any {hook.assigned_role}"
        return f"{role}{where}"
    return hook.assignee or hook.owner_email or "the run's owner"


def refusal(hook: HookToDecide | ReviewHook, user_id: int, email: str) -> str | None:
    """Why this signed-in person may not decide the hook (None: they may): the one rule for the
    web (app/web/approvals), the API and the CLI (docs/teams.md, "Approvals"). The assignee by
    e-mail; for a role assignment, members of the run's space at that role or above
    (`app.core.policy.may_decide`); the run's owner for an unassigned hook; viewers never. The hook
    carries the person's role in the run's space (`my_role`, None: not a member), `space_name` and
    `owner_email` (`hook_for_decider`, app/web/approvals/store.py `hook_for_user`)."""
    role = hook.my_role
    if role == "viewer":
        return f"You are a viewer of {hook.space_name}: viewers read runs and decide nothing."
    if hook.assigned_role:
        if may_decide(role, assigned_role=hook.assigned_role, is_assignee=False):
            return None
        return f"This is for {who_decides(hook)}; you are a {role or 'guest'} there."
    if hook.assignee:
        mine = hook.assignee == email.strip().lower()
        if mine and (role is None or may_decide(role, assigned_role=None, is_assignee=True)):
            return None
        return f"This is assigned to {hook.assignee}."
    if hook.owner_id == user_id and may_decide(role, assigned_role=None, is_assignee=True):
        return None
    return f"This is for {hook.owner_email}, who started the run."


async def hook_for_decider(
    conn: AsyncConnection, token: str | None, user_id: int | None, *, hook_id: int | None = None
) -> HookToDecide | None:
    """The hook of `token` (or `hook_id`) with what `refusal` needs for `user_id` (`my_role`,
    `my_email`); None if there is no such hook."""
    params = {"token": token, "hook_id": hook_id, "user_id": user_id}
    cur = conn.cursor(row_factory=class_row(HookToDecide))
    return await (await cur.execute(HOOK_FOR_DECIDER, params)).fetchone()


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


def check_assignment(
    kind: str, assignee: str | None, assign_role: str | None, required: int
) -> None:
    """Raise ValueError for an assignment that cannot work (before anything is written)."""
    if assign_role is not None and assign_role not in ASSIGNABLE_ROLES:
        raise ValueError(
            f"unknown role {assign_role!r}: assign to one of {', '.join(ASSIGNABLE_ROLES)}"
        )
    if assignee and assign_role:
        raise ValueError("assign a hook to a person (assignee) or to a role, not both")
    if isinstance(required, bool) or not isinstance(required, int):
        raise ValueError("required must be a whole number of approvals")
    if not 1 <= required <= MAX_REQUIRED:
        raise ValueError(f"required must be between 1 and {MAX_REQUIRED}")
    if required > 1 and kind != "approval":
        raise ValueError("only an approval can need several approvals (required)")
    if required > 1 and not assign_role:
        raise ValueError("several approvals (required) need a role to come from (assign_role)")


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
    assign_role: str | None = None,
    required: int = 1,
) -> HookRow:
    if kind not in HOOK_ACTIONS:
        raise ValueError(f"hook kind must be one of {', '.join(HOOK_ACTIONS)}")
    check_assignment(kind, assignee, assign_role, required)
    if assign_role:
        space = await (await conn.execute(RUN_SPACE_KIND, {"run_id": run.id})).fetchone()
        if space is None or space["kind"] != "team":
            raise ValueError(
                f"this hook is assigned to a role (any {assign_role}), which needs a team's run; "
                "this run is in a personal space"
            )
    now = datetime.now(UTC)
    timeout, remind_before = _seconds(timeout), _seconds(remind_before)
    expires_at = now + timeout if timeout else None
    remind_at = expires_at - remind_before if expires_at and remind_before else None
    if remind_at and remind_at <= now:
        remind_at = None
    hook = await (
        await conn.cursor(row_factory=class_row(HookRow)).execute(
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
                "assigned_role": assign_role,
                "required": required,
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
        detail={"hook_id": hook.id},
        wake_at=expires_at,
        event="hook_waiting",
        event_data={
            "seq": seq,
            "name": name,
            "hook_id": hook.id,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    if remind_at:
        await defer_hook_reminder(conn, hook.id, remind_at)
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
    user_id: int | None = None,
) -> HookAfterDecision:
    """Record a decision on a waiting hook; resolve it exactly once and queue its run when it is
    the last approval needed or any other answer. With `owner_id`, a hook of another user is
    reported as not found. `decided_by` (an e-mail) names the person: one decision per person
    (`AlreadyDecided` for a second); `user_id` is their account, when they have one. Who may
    decide is the caller's question (app.core.policy.may_decide). Returns the hook, with
    `approvals` (so far) and `status` still `waiting` when more approvals are needed."""
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
        decider = (decided_by or "").strip().lower()
        final = await _record_decision(conn, hook, action, data, decider, user_id, now)
        if final:
            await _resolve(conn, hook, action, data, decided_by, now)
    cur = conn.cursor(row_factory=class_row(HookAfterDecision))
    return await (await cur.execute(GET_HOOK, {"id": hook["id"]})).fetchone()


async def _record_decision(
    conn: AsyncConnection,
    hook: dict,
    action: str,
    data: dict,
    decider: str,
    user_id: int | None,
    now: datetime,
) -> bool:
    """One person's decision, with its audit entry, under the hook's lock. True when it resolves
    the hook: any answer but an approval, or the last approval needed."""
    recorded = await (
        await conn.execute(
            INSERT_DECISION,
            {
                "hook_id": hook["id"],
                "user_id": user_id,
                "decided_by": decider,
                "action": action,
                "data": Jsonb(data),
                "decided_at": now,
            },
        )
    ).fetchone()
    if recorded is None:
        raise AlreadyDecided(f"{decider or 'this person'} already answered it (one answer each)")
    approvals = recorded["approvals"] if action == "approve" else 0
    final = action != "approve" or approvals >= hook["required"]
    event = {
        "seq": hook["seq"],
        "name": hook["name"],
        "hook_id": hook["id"],
        "action": action,
        "decided_by": decider,
        "approvals": approvals,
        "required": hook["required"],
    }
    await audit.record(
        conn,
        space_id=hook["space_id"],
        actor_id=user_id,
        action="hook.decide",
        object_kind="hook",
        object_id=hook["id"],
        detail={"run_id": str(hook["run_id"]), **event, "resolved": final},
    )
    if not final:
        await conn.execute(
            DECISION_EVENT,
            {"run_id": hook["run_id"], "owner_id": hook["owner_id"], "event": Jsonb(event)},
        )
    return final


async def _resolve(
    conn: AsyncConnection,
    hook: dict,
    action: str,
    data: dict,
    decided_by: str | None,
    now: datetime,
) -> None:
    """The hook's answer: stored on the hook, completing its journal entry, queueing its run
    (one statement)."""
    result = HookResult(
        action=action, data=data, decided_by=decided_by, decided_at=now, hook_id=hook["id"]
    )
    await conn.execute(
        QUEUE_RUN,
        {
            "id": hook["id"],
            "action": action,
            "data": Jsonb(data),
            "decided_by": decided_by,
            "decided_at": now,
            "run_id": hook["run_id"],
            "seq": hook["seq"],
            "output": Jsonb(result.to_json()),
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


async def waiting_for(
    conn: AsyncConnection, user_id: int, email: str, limit: int = 100
) -> list[WaitingHook]:
    """The hooks waiting for this person's decision, in every space (their inbox, the nav's
    count): unassigned ones of their runs, those assigned to their e-mail, those assigned to a
    role they hold in the run's space; not the ones they already approved."""
    cur = conn.cursor(row_factory=class_row(WaitingHook))
    return await (
        await cur.execute(
            WAITING_FOR_USER,
            {"user_id": user_id, "email": (email or "").strip().lower(), "limit": limit},
        )
    ).fetchall()


async def send_hook_reminder(conn: AsyncConnection, hook_id: int) -> bool:
    """Run the reminder callbacks once, if the hook is still waiting."""
    async with conn.transaction():
        hook = await (
            await conn.cursor(row_factory=class_row(HookRow)).execute(
                CLAIM_REMINDER, {"id": hook_id}
            )
        ).fetchone()
        if hook:
            await signals.emit(signals.hook_reminder, conn, hook)
    return hook is not None
