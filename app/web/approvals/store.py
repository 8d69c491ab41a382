"""SQL for approvals: a hook found for a signed-in person (the review page), by token (the email
link), and the inbox (the engine's `waiting_for`: every space, not only the current one).

A signed-in person finds a hook when they are a member of its run's space (any role: a viewer
sees it, and is refused the decision, 403) or it is assigned to their e-mail; anyone else does
not find it (404). Whether they may decide it is app/web/approvals/decide.py `refusal`.

Both queries select the columns of app/engine/rows.py `ReviewHook` (change them together): the
link's page knows no person, so it has no role, no answer of theirs and no team's name."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import class_row

from app.engine.hooks import waiting_for
from app.engine.rows import ReviewHook, WaitingHook

INBOX_LIMIT = 100

HOOK_COLUMNS = """
h.id, h.run_id, h.owner_id, h.token, h.name, h.kind, h.status, h.actions, h.show, h.assignee, h.action,
h.response, h.decided_by, h.decided_at, h.expires_at, h.created_at, h.assigned_role, h.required,
(SELECT count(*) FROM hook_decisions d WHERE d.hook_id = h.id AND d.action = 'approve') AS approvals,
r.space_id, r.title AS run_title, r.workflow, r.version, r.chat_id, r.status AS run_status, u.email AS owner_email
"""
BY_ID_FOR_USER = f"""
SELECT {HOOK_COLUMNS}, s.kind AS space_kind, s.name AS space_name, m.role AS my_role,
       EXISTS (SELECT 1 FROM hook_decisions d WHERE d.hook_id = h.id AND d.decided_by = %(email)s)
           AS i_decided
FROM hooks h JOIN runs r ON r.id = h.run_id JOIN users u ON u.id = h.owner_id
JOIN spaces s ON s.id = r.space_id
LEFT JOIN space_members m ON m.space_id = r.space_id AND m.user_id = %(user_id)s
WHERE h.id = %(id)s AND h.kind <> 'webhook' AND (m.user_id IS NOT NULL OR h.assignee = %(email)s)
"""
BY_TOKEN = f"""
SELECT {HOOK_COLUMNS}, NULL::text AS space_kind, NULL::text AS space_name, NULL::text AS my_role,
       false AS i_decided
FROM hooks h JOIN runs r ON r.id = h.run_id JOIN users u ON u.id = h.owner_id
WHERE h.token = %(token)s AND h.kind <> 'webhook'
"""
# The review that replaced a reopened one: the run's newest waiting hook, asked after the old one.
NEWER_WAITING = """
SELECT id, token FROM hooks
WHERE run_id = %(run_id)s AND status = 'waiting' AND kind <> 'webhook' AND id > %(id)s
ORDER BY id DESC LIMIT 1
"""


async def hook_for_user(
    conn: AsyncConnection, hook_id: int, user_id: int, email: str
) -> ReviewHook | None:
    """The hook, if this person may see it: with their role in its run's space (None: not a
    member, it is assigned to their e-mail) and whether they already answered it."""
    params = {"id": hook_id, "user_id": user_id, "email": email.strip().lower()}
    cur = conn.cursor(row_factory=class_row(ReviewHook))
    return await (await cur.execute(BY_ID_FOR_USER, params)).fetchone()


async def hook_for_token(conn: AsyncConnection, token: str) -> ReviewHook | None:
    if not token or len(token) > 100:
        return None
    cur = conn.cursor(row_factory=class_row(ReviewHook))
    return await (await cur.execute(BY_TOKEN, {"token": token})).fetchone()


async def newer_waiting_hook(conn: AsyncConnection, hook: ReviewHook) -> dict | None:
    return await (
        await conn.execute(NEWER_WAITING, {"run_id": hook.run_id, "id": hook.id})
    ).fetchone()


async def waiting_hooks(conn: AsyncConnection, user_id: int, email: str) -> list[WaitingHook]:
    """The inbox: what waits for this person's decision, in every space."""
    return await waiting_for(conn, user_id, email, INBOX_LIMIT)
