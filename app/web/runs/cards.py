"""The run card: a run as a person follows it (steps, progress, what it waits for, the result).

Shared by every page that shows runs (the chat, the approvals pages, the workflows' own pages):

    card = await load_card(conn, run_id, owner_id)   # RunNotFound for someone else's run (a 404 page)
    card = await load_card(conn, run_id, owner_id, workflow="code-review")  # RunNotFound unless one
    {% include "partials/runs/live.html" %}           # with `card` in the context

The templates in templates/partials/runs/ take the pieces of this dict: `card.status` and
`card.status_label` (status_badge.html), `card.progress` (progress.html), `card.steps`
(steps.html), `card.hook` (the waiting hook, for the inline decision form), `card.panel` (the
workflow's own section, app/web/runs/panels.py). Everything that came
from a model is sanitized here (`*_html` values are safe Markup).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from markupsafe import Markup
from psycopg import AsyncConnection

from app.core.markdown import render_markdown
from app.engine.commands import get_run
from app.engine.errors import RunNotFound, WorkflowNotFound
from app.engine.hooks import hook_for_decider, refusal, who_decides
from app.engine.registry import get_workflow
from app.engine.rows import Run, as_dict
from app.spaces.store import member_space
from app.web.runs.bookkeeping import people_steps
from app.web.runs.hook_fields import hook_fields
from app.web.runs.panels import workflow_panel
from app.web.runs.progress import progress_bar
from app.web.runs.store import run_artifacts

FINAL = ("completed", "failed", "cancelled")
# The step a run is executing now: announced by an event, journaled only when it ends.
STARTED_STEP = """
SELECT data FROM run_events WHERE run_id = %(run_id)s AND kind = 'step_started' ORDER BY id DESC LIMIT 1
"""

STATUS_LABELS = {
    "queued": "Queued",
    "running": "Running",
    "sleeping": "Sleeping",
    "waiting": "Waiting",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "expired": "Review expired",
}
STEP_STATES = {
    "completed": "done",
    "failed": "failed",
    "waiting": "waiting",
    "retrying": "retrying",
    "sleeping": "sleeping",
    "running": "running",
}
# How a decision reads after the fact, on the card ("revision requested by ann@…") and on the review
# page ("Thank you: approved.").
ACTION_WORDS = {
    "approve": "approved",
    "revise": "revision requested",
    "reject": "rejected",
    "iterate": "sent back to the writer",
    "reopen": "reopened",
    "submit": "submitted",
    "deliver": "delivered",
}


def workflow_title(name: str, version: int | None = None) -> str:
    try:
        return get_workflow(name, version).title
    except WorkflowNotFound:
        return name


def markdown_html(text: Any, title: str | None = None) -> Markup:
    """Model text inside a card: its headings below the card's own title (an h3), and a leading
    heading that only repeats `title` left out."""
    return render_markdown(str(text or ""), top=4, title=title)


def hook_view(hook: dict) -> dict:
    """A hook as the decision form shows it (any page: card, inbox, review page, email link), from
    a `ReviewHook` (the approvals pages) or a run's `Hook`, as a dict (`rows.as_dict`)."""
    show = hook.get("show") if isinstance(hook.get("show"), dict) else {}
    labels = show.get("labels") or {}
    edit = show.get("edit") if isinstance(show.get("edit"), dict) else None
    return {
        "id": hook["id"],
        "name": hook["name"],
        "status": hook["status"],
        "kind": hook["kind"],
        "actions": [
            {
                "name": a,
                "label": labels.get(a, a.replace("_", " ").capitalize()),
                "needs_feedback": a in (show.get("feedback_for") or ()),
            }
            for a in hook["actions"]
        ],
        "heading": show.get("heading") or hook["name"],
        "label": show.get("label") or "",
        "note": show.get("note") or "",
        "state": show.get("state") or "review",
        "content_html": markdown_html(show.get("content")) if show.get("content") else Markup(""),
        "extra": None if show.get("content") or show.get("form") or not show else show,
        "fields": hook_fields(hook),  # any other JSON, shown as is
        "edit": edit
        and {
            "name": edit.get("name", "lines"),
            "label": edit.get("label", ""),
            "value": "\n".join(str(x) for x in edit.get("lines") or []),
            "hint": edit.get("hint", ""),
        },
        "needs_feedback": any(a in (show.get("feedback_for") or ()) for a in hook["actions"]),
        "expires_at": hook.get("expires_at"),
        "created_at": hook.get("created_at"),
        "action": hook.get("action"),
        "decided_by": hook.get("decided_by"),
        "decided_at": hook.get("decided_at"),
        # Who decides (docs/teams.md, "Approvals") and, for several approvals, how many so far.
        "assignee": hook.get("assignee"),
        "assigned_role": hook.get("assigned_role"),
        "required": hook.get("required") or 1,
        "approvals": hook["approvals"]
        if "approvals" in hook
        else sum(1 for d in hook.get("decisions") or () if d.get("action") == "approve"),
    }


def _steps(run: Run, started: dict | None) -> list[dict]:
    hooks = {h.seq: h for h in run.hooks}  # a hook step may have no hook (nothing to wait for)
    steps = []
    for step in people_steps(run):
        state, note = STEP_STATES.get(step.status, step.status), ""
        hook = hooks.get(step.seq) if step.kind == "hook" else None
        if hook:
            if hook.status == "expired" or (step.output or {}).get("timed_out"):
                state, note = "expired", "expired unanswered"
            elif hook.status == "resolved":
                note = ACTION_WORDS.get(hook.action, hook.action or "")
                if hook.decided_by:
                    note += f" by {hook.decided_by}"
            elif hook.status == "cancelled":
                state = "cancelled"
        elif step.status == "failed":
            note = (step.error or {}).get("message", "")
        elif step.status == "retrying":
            note = "retrying after an error"
        steps.append(
            {
                "name": step.name,
                "kind": step.kind,
                "state": state,
                "note": note,
                "duration_ms": step.duration_ms,
            }
        )
    last = max((s.seq for s in run.steps), default=-1)
    if started and run.status == "running" and int(started.get("seq", -1)) > last:
        steps.append(
            {
                "name": started.get("name", ""),
                "kind": "step",
                "state": "running",
                "note": "",
                "duration_ms": None,
            }
        )
    return steps


def _result(run: Run) -> dict | None:
    output = run.output
    if run.status == "failed":
        error = run.error or {}
        return {"kind": "failed", "message": error.get("message") or "The run failed."}
    if run.status == "cancelled":
        return {
            "kind": "cancelled",
            "message": (run.error or {}).get("message") or "Cancelled.",
        }
    if run.status != "completed" or not isinstance(output, dict):
        return None
    text = output.get("document") or output.get("article")
    if output.get("approved") is False or output.get("published") is False:
        why = "The review expired." if output.get("expired") else "Rejected: nothing was produced."
        return {"kind": "stopped", "message": why, "approved": False}
    return {
        "kind": "document",
        "html": markdown_html(text, run.title) if text else None,
        "title": output.get("title"),
        "approved": True,
    }


async def load_card(
    conn: AsyncConnection,
    run_id: UUID | str,
    owner_id: int | None,
    *,
    workflow: str | None = None,
    space_id: int | None = None,
    viewer_id: int | None = None,
) -> dict:
    """Everything a run card shows. Raises RunNotFound if the run is not in `space_id` (when given:
    any member's run there) or else not `owner_id`'s, or (for a workflow's own page) not a run of
    `workflow`. The card names the run's space when it is a team's (`space`) and carries the
    reader's membership there (`reader`). A waiting hook shows its form only to `viewer_id`
    (default `owner_id`) when they may decide it (app/engine/hooks.py `refusal`); otherwise the
    card says who it waits for (`hook.refused`, `hook.for_whom`)."""
    run = await get_run(
        conn,
        run_id,
        owner_id=None if space_id is not None else owner_id,
        space_id=space_id,
        with_tokens=False,
    )
    if workflow is not None and run.workflow != workflow:
        raise RunNotFound("no such run")
    started = None
    if run.status == "running":
        row = await (await conn.execute(STARTED_STEP, {"run_id": run.id})).fetchone()
        started = row["data"] if row else None
    waiting = next((h for h in run.hooks if h.status == "waiting"), None)
    hook = (
        hook_view(as_dict(waiting))
        if waiting and run.status == "waiting" and waiting.kind != "webhook"
        else None
    )
    viewer = viewer_id if viewer_id is not None else owner_id
    # The reader's role where the run is (a chat holds runs of several spaces): the card offers
    # only what that role may do, as `may(action, card.reader)` (app/web/template_policy.py).
    reader = await member_space(conn, viewer, run.space_id) if viewer is not None else None
    if hook:  # the one rule (hooks.refusal): a viewer, even the run's starter, decides nothing
        found = await hook_for_decider(conn, None, viewer, hook_id=waiting.id)
        hook["for_whom"] = who_decides(found) if found else hook.get("assignee") or ""
        hook["refused"] = (
            refusal(found, viewer, found.my_email or "")
            if found and viewer is not None
            else f"This is for {hook['for_whom']}."
        )
    status = "expired" if hook and hook["state"] == "expired" else run.status
    return {
        "run": run,
        "id": str(run.id),
        "title": run.title,
        "workflow_title": workflow_title(run.workflow, run.version),
        "status": status,
        "status_label": STATUS_LABELS.get(status, status),
        "final": run.status in FINAL,
        "steps": _steps(run, started),
        "progress": progress_bar(run.status, run.progress),
        "waiting_for": run.waiting_for if run.status in ("waiting", "sleeping") else None,
        "hook": hook,
        "result": _result(run),
        "artifacts": await run_artifacts(conn, run.id),
        "space": run.space_name if run.space_kind == "team" else None,
        "reader": reader,
        "can_cancel": run.status not in FINAL,
        "panel": await workflow_panel(conn, run),
    }
