"""What people hear about runs, wired to the engine's signals: mail and the bell, as each person
set it at /settings/notifications (app/core/notify_prefs.py).

- a hook starts waiting → "review needed" to the people it waits for: its assignee (an email with
  a link carrying the hook's token: GET shows it, POST decides; and the bell, if they have an
  account), each member of the run's team at the role it is assigned to or above (the bell, and an
  email linking to /approvals/<id>: a role's members sign in, so each counts as themselves), or
  the run's owner (email with the token link, and the bell);
- a hook's reminder time comes, or a review expires → "reminder";
- a run completes → "run finished"; fails or is stopped by the system → "run failed".

For each notice and person: the bell gets it if their `in_app` setting says so; the e-mail goes out
if their `email` setting is `each` and they are not looking at the run right now (an open live
page showing it, app/core/presence.py: the card or the bell already tells them), is collected for
the daily digest (app/workflows/digest.py) if it is `digest`, and not sent if it is `off`. Every
mail to a user carries a signed one-click unsubscribe link for its kind (app/core/unsubscribe.py).

A review held back because its person was looking at it is looked at again later (the
`baton.notice_recheck` job, after RECHECK_S, then twice as long each time up to RECHECK_MAX_S): if it
is still waiting and they have left, the mail goes out then; once decided or expired, never.

Every callback runs inside the engine's transaction (see app/engine/signals.py), so the mail and
the notification exist exactly when the state change they announce does.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from app.core import runtime
from app.core.local_time import format_local
from app.core.mail import queue_mail, render_mail
from app.core.notify_prefs import DEFAULTS, KINDS, prefs_for
from app.core.presence import looking_at, pages_showing
from app.core.queue import NOTICE_RECHECK, defer, queue
from app.core.unsubscribe import unsubscribe_url
from app.engine import signals
from app.engine.advance import USER_CANCEL
from app.engine.errors import WorkflowNotFound
from app.engine.registry import get_workflow
from app.engine.rows import HookRow, StartedRun, as_dict
from app.workflows import digest  # noqa: F401  (registers the daily digest's periodic task with the worker)

log = logging.getLogger("baton.notices")

RUN_AND_OWNER = """
SELECT r.id, r.title, r.workflow, r.version, r.chat_id, r.owner_id, u.email AS owner_email,
       u.time_zone AS owner_time_zone
FROM runs r JOIN users u ON u.id = r.owner_id WHERE r.id = %(run_id)s
"""
USER_BY_EMAIL = "SELECT id, email, time_zone FROM users WHERE email = lower(%(email)s)"
USER_BY_ID = "SELECT id, email, time_zone FROM users WHERE id = %(id)s"
INSERT_NOTIFICATION = """
INSERT INTO notifications (user_id, kind, title, url, run_id, hook_id)
VALUES (%(user_id)s, %(kind)s, %(title)s, %(url)s, %(run_id)s, %(hook_id)s)
"""
# The columns of HookRow, as the engine's signals pass a hook.
WAITING_HOOK = (
    f"SELECT {', '.join(f.name for f in fields(HookRow))} FROM hooks "
    "WHERE id = %(id)s AND status = 'waiting'"
)
# The members of the run's space who may decide a hook assigned to `role` (that role or above).
ROLE_DECIDERS = """
SELECT u.id, u.email, u.time_zone FROM runs r
JOIN space_members m ON m.space_id = r.space_id JOIN users u ON u.id = m.user_id
WHERE r.id = %(run_id)s
  AND array_position(ARRAY['viewer', 'member', 'admin', 'owner'], m.role)
      >= array_position(ARRAY['viewer', 'member', 'admin', 'owner'], %(role)s)
ORDER BY u.id
"""
RECHECK_S = 120.0
RECHECK_MAX_S = 3600.0
INSERT_DIGEST_ITEM = """
INSERT INTO digest_items (user_id, kind, title, url) VALUES (%(user_id)s, %(kind)s, %(title)s, %(url)s)
"""


def review_link(token: str) -> str:
    return f"{runtime.current().settings.base_url}/review/{token}"


def run_url(run: dict) -> str:
    return (
        f"/chat/{run['chat_id']}#run-{run['id']}"
        if run.get("chat_id")
        else f"/workflows/{run['id']}"
    )


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


def _error_message(run: dict) -> str:
    error = run.get("error")
    return str(error.get("message") or "")[:600] if isinstance(error, dict) else ""


def _when(value: datetime | None, zone_name: str | None) -> str:
    """A date for a mail, in the recipient's time zone (UTC when they have none), the zone named."""
    return format_local(value, zone_name)


async def notify(
    conn: AsyncConnection,
    *,
    user_id: int,
    kind: str,
    title: str,
    url: str,
    run_id: Any = None,
    hook_id: int | None = None,
) -> None:
    await conn.execute(
        INSERT_NOTIFICATION,
        {
            "user_id": user_id,
            "kind": kind,
            "title": title[:300],
            "url": url,
            "run_id": run_id,
            "hook_id": hook_id,
        },
    )


async def _bell(
    conn: AsyncConnection,
    pref_kind: str,
    *,
    user_id: int,
    kind: str,
    title: str,
    url: str,
    run_id: Any,
    hook_id: int | None = None,
) -> None:
    if (await prefs_for(conn, user_id))[pref_kind].in_app:
        await notify(
            conn, user_id=user_id, kind=kind, title=title, url=url, run_id=run_id, hook_id=hook_id
        )


async def _mail(
    conn: AsyncConnection,
    pref_kind: str,
    *,
    to: str,
    user: dict | None,
    template: str,
    context: dict,
    run: dict,
    hook_id: int | None = None,
    digest_title: str,
    recheck: dict | None = None,
    app_path: str | None = None,
) -> None:
    """One notice by e-mail to `to` (`user` is its account, None for an outside reviewer): sent,
    put in the digest, or left out, by the person's settings and presence. `app_path`: where the
    mail's "open it in Baton" leads (default: the run, for its owner)."""
    settings = runtime.current().settings
    app_link = settings.base_url + (app_path or run_url(run))
    pref = (await prefs_for(conn, user["id"]))[pref_kind] if user else DEFAULTS[pref_kind]
    if pref.email == "off":
        return
    if user and pref.email == "digest":
        await conn.execute(
            INSERT_DIGEST_ITEM,
            {
                "user_id": user["id"],
                "kind": pref_kind,
                "title": digest_title[:300],
                "url": app_link,
            },
        )
        return
    if user and await looking_at(conn, user["id"], pages_showing(run, hook_id)):
        log.info(
            "notice.mail_skipped_present",
            extra={"user_id": user["id"], "kind": pref_kind, "run_id": str(run["id"])},
        )
        if recheck is not None:  # a question still open: ask again once they may have left
            await defer(conn, NOTICE_RECHECK, recheck, after_s=recheck["wait_s"])
        return
    unsubscribe = unsubscribe_url(settings, user["id"], pref_kind) if user else None
    mail = render_mail(
        template,
        app_link=app_link,
        unsubscribe_url=unsubscribe,
        kind_label=KINDS[pref_kind],
        settings_url=f"{settings.base_url}/settings/notifications",
        **context,
    )
    await queue_mail(
        conn,
        to=to,
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        kind=template,
        user_id=user["id"] if user else None,
        run_id=run["id"],
        hook_id=hook_id,
        unsubscribe_url=unsubscribe,
    )


async def _hook_recipient(
    conn: AsyncConnection, hook: HookRow, run: dict
) -> tuple[str, dict | None]:
    """Who the hook's mail goes to: its assignee (an account, or an outside address) or the owner."""
    if hook.assignee:
        user = await (
            await conn.execute(USER_BY_EMAIL, {"email": hook.assignee.strip()})
        ).fetchone()
        return hook.assignee, user
    return run["owner_email"], {
        "id": run["owner_id"],
        "email": run["owner_email"],
        "time_zone": run["owner_time_zone"],
    }


async def _role_deciders(conn: AsyncConnection, hook: HookRow) -> list[dict]:
    """Everyone a hook assigned to a role waits for (none when it is not assigned to one)."""
    if not hook.assigned_role:
        return []
    params = {"run_id": hook.run_id, "role": hook.assigned_role}
    return await (await conn.execute(ROLE_DECIDERS, params)).fetchall()


async def _bell_users(conn: AsyncConnection, hook: HookRow, run: dict) -> list[tuple[int, str]]:
    """Whose bell a hook rings, and where it leads: the people it waits for who have an account
    (the owner's leads to the run in its chat, the others' to /approvals/<id>); for a reviewer
    without an account, the owner's."""
    own = run_url(run) if run["chat_id"] else f"/approvals/{hook.id}"
    if hook.assigned_role:
        return [
            (u["id"], own if u["id"] == run["owner_id"] else f"/approvals/{hook.id}")
            for u in await _role_deciders(conn, hook)
        ]
    _, user = await _hook_recipient(conn, hook, run)
    if user is None:  # an outside reviewer (the e-mail reaches them): the owner's bell keeps track
        return [(run["owner_id"], own)]
    return [(user["id"], own if user["id"] == run["owner_id"] else f"/approvals/{hook.id}")]


async def _mail_for_hook(
    conn: AsyncConnection,
    hook: HookRow,
    run: dict,
    *,
    reminder: bool,
    wait_s: float | None = None,
    only_user: int | None = None,
) -> None:
    show = hook.show or {}
    expired_state = show.get("state") == "expired"
    template = (
        "hook_reminder" if reminder else ("review_expired" if expired_state else "hook_waiting")
    )
    if hook.assigned_role:
        recipients = [
            (u["email"], u, f"/approvals/{hook.id}")
            for u in await _role_deciders(conn, hook)
            if only_user is None or u["id"] == only_user
        ]
    else:
        to, user = await _hook_recipient(conn, hook, run)
        recipients = [(to, user, None)]
    for to, user, app_path in recipients:
        await _mail_one_for_hook(
            conn, hook, run, template, to, user, app_path, reminder=reminder, wait_s=wait_s
        )


async def _mail_one_for_hook(
    conn: AsyncConnection,
    hook: HookRow,
    run: dict,
    template: str,
    to: str,
    user: dict | None,
    app_path: str | None,
    *,
    reminder: bool,
    wait_s: float | None,
) -> None:
    show = hook.show or {}
    expired_state = show.get("state") == "expired"
    title = show.get("title") or run["title"]
    settings = runtime.current().settings
    link = settings.base_url + app_path if app_path else review_link(hook.token)
    await _mail(
        conn,
        "reminder" if reminder or expired_state else "review_needed",
        to=to,
        user=user,
        template=template,
        run=run,
        hook_id=hook.id,
        app_path=app_path,
        recheck={
            "hook_id": hook.id,
            "reminder": reminder,
            "wait_s": wait_s or RECHECK_S,
            # A role's member is asked again alone (the others had their mail).
            **({"user_id": user["id"]} if app_path and user else {}),
        },
        digest_title=(
            f"Reminder: {title} is waiting for you ({hook.name})"
            if reminder
            else f"Review expired: {title}"
            if expired_state
            else f"Review needed: {title} ({hook.name})"
        ),
        context={
            "run_title": title,
            "workflow_title": workflow_title(run),
            "hook_name": hook.name,
            "heading": show.get("heading") or hook.name,
            "preview": _preview(show),
            "link": link,
            "expires_at": _when(hook.expires_at, user["time_zone"] if user else None),
        },
    )


async def on_hook_waiting(conn: AsyncConnection, hook: HookRow) -> None:
    if hook.kind == "webhook":  # answered by a system, not a person
        return
    run = await (await conn.execute(RUN_AND_OWNER, {"run_id": hook.run_id})).fetchone()
    if _operator_run(run):
        return
    await _mail_for_hook(conn, hook, run, reminder=False)
    expired_state = (hook.show or {}).get("state") == "expired"
    for user_id, url in await _bell_users(conn, hook, run):
        await _bell(
            conn,
            "reminder" if expired_state else "review_needed",
            user_id=user_id,
            kind="review_expired" if expired_state else "approval_needed",
            title=(
                f"Review expired: {run['title']}"
                if expired_state
                else f"Approval needed: {run['title']} ({hook.name})"
            ),
            url=url,
            run_id=run["id"],
            hook_id=hook.id,
        )


async def on_hook_reminder(conn: AsyncConnection, hook: HookRow) -> None:
    if hook.kind == "webhook":
        return
    run = await (await conn.execute(RUN_AND_OWNER, {"run_id": hook.run_id})).fetchone()
    if _operator_run(run):
        return
    await _mail_for_hook(conn, hook, run, reminder=True)
    for user_id, url in await _bell_users(conn, hook, run):
        await _bell(
            conn,
            "reminder",
            user_id=user_id,
            kind="review_reminder",
            title=f"Reminder: {run['title']} is waiting ({hook.name})",
            url=url,
            run_id=run["id"],
            hook_id=hook.id,
        )


async def on_run_finished(conn: AsyncConnection, finished: StartedRun) -> None:
    # The helpers and the mail read a run as the dict RUN_AND_OWNER gives them elsewhere.
    run = as_dict(finished)
    if _operator_run(run):
        return
    if run["status"] == "cancelled":
        # A cancel is the user's own doing; a stop by the system (the maximum duration) is news.
        if run.get("cancel_reason") in (None, USER_CANCEL):
            return
        kind, pref_kind = "run_stopped", "run_failed"
        title = f"Stopped: {run['title']} ({run['cancel_reason'].removeprefix('cancelled: ')})"
    elif run["status"] == "completed":
        kind, pref_kind, title = "run_completed", "run_finished", f"Completed: {run['title']}"
    else:
        kind, pref_kind, title = "run_failed", "run_failed", f"Failed: {run['title']}"
    await _bell(
        conn,
        pref_kind,
        user_id=run["owner_id"],
        kind=kind,
        title=title,
        url=run_url(run),
        run_id=run["id"],
    )
    owner = await (await conn.execute(USER_BY_ID, {"id": run["owner_id"]})).fetchone()
    if owner is None:
        return
    await _mail(
        conn,
        pref_kind,
        to=owner["email"],
        user=owner,
        template="run_finished",
        run=run,
        digest_title=title,
        context={
            "title": title,
            "run_title": run["title"],
            "workflow_title": workflow_title(run),
            "status": kind,
            "error": _error_message(run) if kind == "run_failed" else "",
        },
    )


async def recheck_hook_notice(
    conn: AsyncConnection,
    hook_id: int,
    *,
    reminder: bool,
    wait_s: float,
    user_id: int | None = None,
) -> None:
    """The mail held back while its person looked at the run: send it now if the hook still waits
    and they have left (else look again, twice as late). `user_id`: that one member of the role
    the hook is assigned to."""
    async with conn.transaction():
        hook = await (
            await conn.cursor(row_factory=class_row(HookRow)).execute(WAITING_HOOK, {"id": hook_id})
        ).fetchone()
        if hook is None:  # decided or expired meanwhile: nothing left to say
            return
        run = await (await conn.execute(RUN_AND_OWNER, {"run_id": hook.run_id})).fetchone()
        await _mail_for_hook(
            conn,
            hook,
            run,
            reminder=reminder,
            wait_s=min(wait_s * 2, RECHECK_MAX_S),
            only_user=user_id,
        )


@queue.task(name=NOTICE_RECHECK, pass_context=True)
async def notice_recheck(
    context, hook_id: int, reminder: bool, wait_s: float, user_id: int | None = None
) -> None:
    async with context.app.connector.pool.connection() as conn:
        await recheck_hook_notice(conn, hook_id, reminder=reminder, wait_s=wait_s, user_id=user_id)


def connect() -> None:
    """Attach the callbacks (once, however often this module is imported)."""
    for callbacks, callback in (
        (signals.hook_waiting, on_hook_waiting),
        (signals.hook_reminder, on_hook_reminder),
        (signals.run_finished, on_run_finished),
    ):
        if callback not in callbacks:
            callbacks.append(callback)


connect()
