"""What people hear about runs, wired to the engine's signals: mail and the bell.

- a hook starts waiting → an email to its assignee (or the run's owner) with a link carrying the
  hook's token (GET shows it, POST decides), and a notification for the owner;
- a hook's reminder time comes → a reminder email to the same person;
- a run completes or fails → a notification for the owner.

Every callback runs inside the engine's transaction (see app/engine/signals.py), so the mail and
the notification exist exactly when the state change they announce does.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from app.core import runtime
from app.core.mail import queue_mail, render_mail
from app.engine import signals
from app.engine.advance import USER_CANCEL
from app.engine.errors import WorkflowNotFound
from app.engine.registry import get_workflow

log = logging.getLogger("baton.notices")

RUN_AND_OWNER = """
SELECT r.id, r.title, r.workflow, r.version, r.chat_id, u.email AS owner_email
FROM runs r JOIN users u ON u.id = r.owner_id WHERE r.id = %(run_id)s
"""
INSERT_NOTIFICATION = """
INSERT INTO notifications (user_id, kind, title, url, run_id, hook_id)
VALUES (%(user_id)s, %(kind)s, %(title)s, %(url)s, %(run_id)s, %(hook_id)s)
"""


def review_link(token: str) -> str:
    return f"{runtime.current().settings.base_url}/review/{token}"


def run_url(run: dict) -> str:
    return f"/chat/{run['chat_id']}#run-{run['id']}" if run.get("chat_id") else f"/workflows/{run['id']}"


def workflow_title(run: dict) -> str:
    try:
        return get_workflow(run["workflow"], run["version"]).title
    except WorkflowNotFound:
        return run["workflow"]


def _operator_run(run: dict) -> bool:
    """Operator checks (selftest) are not news: no mail, no bell."""
    try:
        return get_workflow(run["workflow"], run["version"]).operator
    except WorkflowNotFound:
        return False


def _preview(show: dict | None, limit: int = 600) -> str:
    text = " ".join(str((show or {}).get("content") or "").split())
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC") if value else ""


async def notify(conn: AsyncConnection, *, user_id: int, kind: str, title: str, url: str, run_id: Any = None,
                 hook_id: int | None = None) -> None:
    await conn.execute(INSERT_NOTIFICATION, {"user_id": user_id, "kind": kind, "title": title[:300], "url": url,
                                             "run_id": run_id, "hook_id": hook_id})


async def _mail_for_hook(conn: AsyncConnection, hook: dict, run: dict, *, reminder: bool) -> None:
    show = hook.get("show") or {}
    expired_state = show.get("state") == "expired"
    mail = render_mail(
        "hook_reminder" if reminder else ("review_expired" if expired_state else "hook_waiting"),
        run_title=show.get("title") or run["title"], workflow_title=workflow_title(run), hook_name=hook["name"],
        heading=show.get("heading") or hook["name"], preview=_preview(show), link=review_link(hook["token"]),
        expires_at=_when(hook.get("expires_at")), app_link=runtime.current().settings.base_url + run_url(run),
    )
    await queue_mail(conn, to=hook["assignee"] or run["owner_email"], subject=mail.subject, text=mail.text,
                     html=mail.html, kind="hook_reminder" if reminder else "hook_waiting",
                     user_id=hook["owner_id"], run_id=hook["run_id"], hook_id=hook["id"])


async def on_hook_waiting(conn: AsyncConnection, hook: dict) -> None:
    if hook["kind"] == "webhook":  # answered by a system, not a person
        return
    run = await (await conn.execute(RUN_AND_OWNER, {"run_id": hook["run_id"]})).fetchone()
    if _operator_run(run):
        return
    await _mail_for_hook(conn, hook, run, reminder=False)
    expired_state = (hook.get("show") or {}).get("state") == "expired"
    await notify(conn, user_id=hook["owner_id"], kind="review_expired" if expired_state else "approval_needed",
                 title=(f"Review expired: {run['title']}" if expired_state
                        else f"Approval needed: {run['title']} ({hook['name']})"),
                 url=run_url(run) if run["chat_id"] else f"/approvals/{hook['id']}", run_id=run["id"],
                 hook_id=hook["id"])


async def on_hook_reminder(conn: AsyncConnection, hook: dict) -> None:
    if hook["kind"] == "webhook":
        return
    run = await (await conn.execute(RUN_AND_OWNER, {"run_id": hook["run_id"]})).fetchone()
    if not _operator_run(run):
        await _mail_for_hook(conn, hook, run, reminder=True)


async def on_run_finished(conn: AsyncConnection, run: dict) -> None:
    if _operator_run(run):
        return
    if run["status"] == "cancelled":
        # A cancel is the user's own doing; a stop by the system (the maximum duration) is news.
        if run.get("cancel_reason") not in (None, USER_CANCEL):
            await notify(conn, user_id=run["owner_id"], kind="run_stopped",
                         title=f"Stopped: {run['title']} ({run['cancel_reason'].removeprefix('cancelled: ')})",
                         url=run_url(run), run_id=run["id"])
        return
    completed = run["status"] == "completed"
    await notify(conn, user_id=run["owner_id"], kind="run_completed" if completed else "run_failed",
                 title=f"{'Completed' if completed else 'Failed'}: {run['title']}", url=run_url(run),
                 run_id=run["id"])


def connect() -> None:
    """Attach the callbacks (once, however often this module is imported)."""
    for callbacks, callback in ((signals.hook_waiting, on_hook_waiting), (signals.hook_reminder, on_hook_reminder),
                                (signals.run_finished, on_run_finished)):
        if callback not in callbacks:
            callbacks.append(callback)


connect()
