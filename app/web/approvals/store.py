"""SQL for approvals: the hooks waiting for a person, found by owner (the inbox, the review page)
or by token (the email link). A hook of another user is simply not found."""

from __future__ import annotations

from psycopg import AsyncConnection

INBOX_LIMIT = 100

HOOK_COLUMNS = """
h.id, h.run_id, h.owner_id, h.token, h.name, h.kind, h.status, h.actions, h.show, h.assignee, h.action,
h.response, h.decided_by, h.decided_at, h.expires_at, h.created_at,
r.title AS run_title, r.workflow, r.version, r.chat_id, r.status AS run_status, u.email AS owner_email
"""
BY_ID = f"""
SELECT {HOOK_COLUMNS} FROM hooks h JOIN runs r ON r.id = h.run_id JOIN users u ON u.id = h.owner_id
WHERE h.id = %(id)s AND h.owner_id = %(owner_id)s AND h.kind <> 'webhook'
"""
BY_TOKEN = f"""
SELECT {HOOK_COLUMNS} FROM hooks h JOIN runs r ON r.id = h.run_id JOIN users u ON u.id = h.owner_id
WHERE h.token = %(token)s AND h.kind <> 'webhook'
"""
# Waiting hooks past their expiry are about to be closed by their run's wake-up: not in the inbox.
WAITING = """
SELECT h.id, h.name, h.created_at, h.expires_at, h.show->>'heading' AS heading, h.show->>'state' AS state,
       r.id AS run_id, r.title AS run_title, r.workflow, r.version, r.chat_id
FROM hooks h JOIN runs r ON r.id = h.run_id
WHERE h.owner_id = %(owner_id)s AND h.status = 'waiting' AND h.kind <> 'webhook'
  AND (h.expires_at IS NULL OR h.expires_at > now())
ORDER BY h.created_at DESC
LIMIT %(limit)s
"""
# The review that replaced a reopened one: the run's newest waiting hook, asked after the old one.
NEWER_WAITING = """
SELECT id, token FROM hooks
WHERE run_id = %(run_id)s AND status = 'waiting' AND kind <> 'webhook' AND id > %(id)s
ORDER BY id DESC LIMIT 1
"""


async def hook_for_owner(conn: AsyncConnection, hook_id: int, owner_id: int) -> dict | None:
    return await (await conn.execute(BY_ID, {"id": hook_id, "owner_id": owner_id})).fetchone()


async def hook_for_token(conn: AsyncConnection, token: str) -> dict | None:
    if not token or len(token) > 100:
        return None
    return await (await conn.execute(BY_TOKEN, {"token": token})).fetchone()


async def newer_waiting_hook(conn: AsyncConnection, hook: dict) -> dict | None:
    return await (
        await conn.execute(NEWER_WAITING, {"run_id": hook["run_id"], "id": hook["id"]})
    ).fetchone()


async def waiting_hooks(conn: AsyncConnection, owner_id: int) -> list[dict]:
    return await (
        await conn.execute(WAITING, {"owner_id": owner_id, "limit": INBOX_LIMIT})
    ).fetchall()
