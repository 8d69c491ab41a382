"""What the web, the API and the CLI do to runs. Each command is one transaction that also queues
the job it needs, so a crash cannot separate "saved" from "queued"."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from app.engine import quotas
from app.engine.advance import USER_CANCEL, cancelled_error, finish_run
from app.engine.errors import InputInvalid, InvalidState, RunNotFound
from app.engine.jobs import abort_advance, advance_is_running, wake_run
from app.engine.registry import get_workflow

BY_IDEMPOTENCY_KEY = "SELECT * FROM runs WHERE owner_id = %(owner_id)s AND idempotency_key = %(key)s"
INSERT_RUN = """
WITH ins AS (
    INSERT INTO runs (owner_id, chat_id, workflow, version, title, input, idempotency_key, deadline_at)
    VALUES (%(owner_id)s, %(chat_id)s, %(workflow)s, %(version)s, %(title)s, %(input)s, %(key)s,
            now() + %(max_duration)s)
    RETURNING *
), ev AS (
    INSERT INTO run_events (run_id, owner_id, kind, data)
    SELECT id, owner_id, 'status', '{"status": "queued"}' FROM ins
), """ + quotas.COUNT_STARTED_RUN + """
SELECT * FROM ins
"""
LOCK_RUN = "SELECT * FROM runs WHERE id = %(run_id)s FOR UPDATE"
REQUEST_CANCEL = """
WITH upd AS (
    UPDATE runs SET cancel_requested = true, cancel_reason = %(reason)s, updated_at = now()
    WHERE id = %(run_id)s RETURNING id, owner_id
)
INSERT INTO run_events (run_id, owner_id, kind, data)
SELECT id, owner_id, 'cancel_requested', jsonb_build_object('reason', %(reason)s::text) FROM upd
"""
FIRST_FAILED_STEP = "SELECT min(seq) AS seq FROM run_steps WHERE run_id = %(run_id)s AND status = 'failed'"
FORGET_FROM = "DELETE FROM run_steps WHERE run_id = %(run_id)s AND seq >= %(seq)s"
FORGET_HOOKS_FROM = "DELETE FROM hooks WHERE run_id = %(run_id)s AND seq >= %(seq)s"
REQUEUE = """
WITH upd AS (
    UPDATE runs SET status = 'queued', error = NULL, output = NULL, completed_at = NULL,
                    cancel_requested = false, cancel_reason = NULL, waiting_for = NULL, wake_at = NULL,
                    updated_at = now()
    WHERE id = %(run_id)s RETURNING id, owner_id
)
INSERT INTO run_events (run_id, owner_id, kind, data)
SELECT id, owner_id, 'status', '{"status": "queued", "retry": true}' FROM upd
"""
GET_RUN = "SELECT * FROM runs WHERE id = %(run_id)s"
RUN_STEPS = """
SELECT seq, name, kind, status, attempts, output, error, started_at, completed_at, duration_ms,
       model, tokens_in, tokens_out, cost_usd, wake_at
FROM run_steps WHERE run_id = %(run_id)s AND kind NOT IN ('now', 'uuid') ORDER BY seq
"""
RUN_HOOKS = """
SELECT id, seq, token, name, kind, status, actions, show, assignee, action, response, decided_by,
       decided_at, expires_at, created_at
FROM hooks WHERE run_id = %(run_id)s ORDER BY seq
"""
LIST_RUNS = """
SELECT id, workflow, version, title, status, waiting_for, progress, error, chat_id,
       created_at, started_at, completed_at, steps_done, cost_usd
FROM runs
WHERE (%(owner_id)s::bigint IS NULL OR owner_id = %(owner_id)s)
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(workflow)s::text IS NULL OR workflow = %(workflow)s)
  AND (%(after_ts)s::timestamptz IS NULL OR (created_at, id) < (%(after_ts)s, %(after_id)s::uuid))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s
"""

FINAL = ("completed", "failed", "cancelled")


def _field_errors(exc: ValidationError) -> list[dict]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "input", "message": e["msg"]} for e in exc.errors()]


async def start_run(
    conn: AsyncConnection,
    *,
    owner_id: int,
    workflow: str,
    input: dict[str, Any],
    chat_id: int | None = None,
    idempotency_key: str | None = None,
    title: str | None = None,
) -> tuple[dict, bool]:
    """Validate, check the quota (under the owner's row lock), insert, queue. Returns the run and
    whether it was created now (False: the idempotency key named an earlier run)."""
    wf = get_workflow(workflow)
    try:
        validated = wf.input_model.model_validate(input)
    except ValidationError as exc:
        raise InputInvalid(_field_errors(exc)) from None
    async with conn.transaction():
        owner = await quotas.lock_owner(conn, owner_id)
        if idempotency_key:
            existing = await (await conn.execute(BY_IDEMPOTENCY_KEY, {"owner_id": owner_id, "key": idempotency_key})).fetchone()
            if existing:
                return existing, False
        await quotas.check_run_quota(conn, owner, wf)
        run = await (await conn.execute(INSERT_RUN, {
            "owner_id": owner_id, "chat_id": chat_id, "workflow": wf.name, "version": wf.version,
            "title": (title or wf.run_title(validated))[:200], "input": Jsonb(validated.model_dump(mode="json")),
            "key": idempotency_key, "max_duration": wf.max_duration,
        })).fetchone()
        await wake_run(conn, run["id"])
    return run, True


async def _lock_run(conn: AsyncConnection, run_id: UUID | str, owner_id: int | None) -> dict:
    try:
        UUID(str(run_id))
    except ValueError:
        raise RunNotFound("no such run") from None
    run = await (await conn.execute(LOCK_RUN, {"run_id": run_id})).fetchone()
    if run is None or (owner_id is not None and run["owner_id"] != owner_id):
        raise RunNotFound("no such run")
    return run


async def cancel_run(
    conn: AsyncConnection, run_id: UUID | str, *, owner_id: int | None = None, reason: str = USER_CANCEL
) -> dict:
    """Queued, sleeping and waiting runs stop at once; a running one at its next step boundary
    (its job is aborted, which interrupts a long step)."""
    async with conn.transaction():
        run = await _lock_run(conn, run_id, owner_id)
        if run["status"] in FINAL:
            raise InvalidState(f"the run has already {run['status']}")
        await conn.execute(REQUEST_CANCEL, {"run_id": run["id"], "reason": reason})
        # Only a run that is really executing needs its job aborted: a waiting or sleeping run whose
        # job is just finishing (or was just fetched, and waits on our row lock) stops here and now.
        if run["status"] == "running" and await advance_is_running(conn, run["id"]):
            await abort_advance(conn, run["id"])
            # If the advance suspends before it sees the flag, this wake-up finishes the cancel.
            await wake_run(conn, run["id"])
        else:
            await finish_run(conn, run["id"], "cancelled", error=cancelled_error(reason))
    return await (await conn.execute(GET_RUN, {"run_id": run["id"]})).fetchone()


async def retry_run(conn: AsyncConnection, run_id: UUID | str, *, owner_id: int | None = None) -> dict:
    """Run a failed run again from its failed step; completed steps keep their results."""
    async with conn.transaction():
        run = await _lock_run(conn, run_id, owner_id)
        if run["status"] != "failed":
            raise InvalidState("only a failed run can be retried")
        failed = (await (await conn.execute(FIRST_FAILED_STEP, {"run_id": run["id"]})).fetchone())["seq"]
        if failed is not None:
            await conn.execute(FORGET_HOOKS_FROM, {"run_id": run["id"], "seq": failed})
            await conn.execute(FORGET_FROM, {"run_id": run["id"], "seq": failed})
        await conn.execute(REQUEUE, {"run_id": run["id"]})
        await wake_run(conn, run["id"])
    return await (await conn.execute(GET_RUN, {"run_id": run["id"]})).fetchone()


async def get_run(
    conn: AsyncConnection, run_id: UUID | str, *, owner_id: int | None = None, with_tokens: bool = True
) -> dict:
    """The run with its steps and hooks (hook tokens only when `with_tokens`)."""
    try:
        UUID(str(run_id))
    except ValueError:
        raise RunNotFound("no such run") from None
    run = await (await conn.execute(GET_RUN, {"run_id": run_id})).fetchone()
    if run is None or (owner_id is not None and run["owner_id"] != owner_id):
        raise RunNotFound("no such run")
    steps = await (await conn.execute(RUN_STEPS, {"run_id": run_id})).fetchall()
    hooks = await (await conn.execute(RUN_HOOKS, {"run_id": run_id})).fetchall()
    if not with_tokens:
        for hook in hooks:
            hook.pop("token")
    return run | {"steps": steps, "hooks": hooks}


def encode_cursor(row: dict) -> str:
    return base64.urlsafe_b64encode(f"{row['created_at'].isoformat()}|{row['id']}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    if not cursor:
        return None, None
    try:
        ts, run_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(ts), str(UUID(run_id))
    except (ValueError, UnicodeDecodeError):
        raise InputInvalid([{"field": "cursor", "message": "not a cursor from this API"}]) from None


async def list_runs(
    conn: AsyncConnection,
    *,
    owner_id: int | None,
    status: str | None = None,
    workflow: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[dict], str | None]:
    """Newest first, keyset-paginated. Returns the page and the cursor of the next one."""
    after_ts, after_id = decode_cursor(cursor)
    rows = await (await conn.execute(LIST_RUNS, {
        "owner_id": owner_id, "status": status, "workflow": workflow, "after_ts": after_ts,
        "after_id": after_id, "limit": limit + 1,
    })).fetchall()
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor
