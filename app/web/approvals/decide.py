"""Deciding a hook from a form, wherever the form is (run card, review page, email link).

`parse_decision` validates the form against the hook itself: the action must be one the hook
offers, feedback is required for the actions the workflow marked (`feedback_for`), and an
editable list (`edit`, e.g. the sources) comes back as clean lines. `decide` then calls the
engine's `resolve_hook`, which applies a decision exactly once; its refusals come back as an
`Outcome` with a sentence for the person and the HTTP status to answer with.

`refusal` says who may decide a hook found for a signed-in person (docs/teams.md, "Approvals"):
the assignee by e-mail; for a role assignment, members of the run's space at that role or above
(`app.core.policy.may_decide`); the run's owner for an unassigned hook; viewers never. It is the
engine's (app/engine/hooks.py), the one rule the API and the CLI apply too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import AsyncConnection

from app.engine.errors import AlreadyDecided, HookExpired, HookNotFound, InvalidAction, InvalidState
from app.engine.hooks import refusal, resolve_hook, who_decides  # noqa: F401 (the pages')
from app.engine.rows import ReviewHook, WaitingHook
from app.web.runs.cards import ACTION_WORDS
from app.web.runs.hook_fields import parse_hook_fields

MAX_FEEDBACK = 4000
MAX_LINES = 20
MAX_LINE = 500


@dataclass
class Parsed:
    action: str | None
    data: dict
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def parse_decision(hook: ReviewHook, form: dict[str, str], zone: str | None = None) -> Parsed:
    """`zone`: the decider's time zone, for a date-time field given without one."""
    show = hook.show if isinstance(hook.show, dict) else {}
    values = {k: v for k, v in form.items() if isinstance(v, str) and not k.startswith("_")}
    action = values.get("action", "")
    errors: dict[str, str] = {}
    data: dict = {}
    if action not in hook.actions:
        errors["form"] = "Choose one of the buttons."
        return Parsed(None, data, values, errors)
    feedback = values.get("feedback", "").strip()
    if len(feedback) > MAX_FEEDBACK:
        errors["feedback"] = f"Too long: at most {MAX_FEEDBACK:,} characters."
    elif action in (show.get("feedback_for") or ()) and not feedback:
        errors["feedback"] = "Write what should change: the feedback goes to the model."
    elif feedback:
        data["feedback"] = feedback
    edit = show.get("edit") if isinstance(show.get("edit"), dict) else None
    if edit and action not in ("reject",):
        name = str(edit.get("name") or "lines")
        lines = [line.strip() for line in values.get(name, "").splitlines() if line.strip()]
        if not lines:
            errors[name] = "Keep at least one line."
        elif len(lines) > MAX_LINES:
            errors[name] = f"At most {MAX_LINES} lines."
        elif any(len(line) > MAX_LINE for line in lines):
            errors[name] = f"Each line at most {MAX_LINE} characters."
        else:
            data[name] = lines
    if action not in ("reject", "cancel"):
        answers, problems = parse_hook_fields(hook.show, values, zone)
        errors.update(problems)
        data.update(answers)
    return Parsed(action if not errors else None, data, values, errors)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    status: int = 200


def progress(hook: ReviewHook | WaitingHook) -> str:
    """ "1 of 2 approvals" for a hook that needs several, else ""."""
    return approvals_so_far(hook.approvals or 0, hook.required or 1)


def approvals_so_far(approvals: int, required: int) -> str:
    return f"{approvals} of {required} approvals" if required > 1 else ""


async def decide(
    conn: AsyncConnection,
    hook: ReviewHook,
    parsed: Parsed,
    *,
    decided_by: str,
    owner_id: int | None,
    user_id: int | None = None,
) -> Outcome:
    try:
        decided = await resolve_hook(
            conn,
            hook.token,
            parsed.action,
            parsed.data,
            decided_by=decided_by,
            owner_id=owner_id,
            user_id=user_id,
        )
    except HookNotFound:
        return Outcome(False, "Not found.", 404)
    except AlreadyDecided as exc:
        return Outcome(False, f"This was already decided: {exc}. Nothing was changed.", 409)
    except HookExpired:
        return Outcome(
            False, "This request expired before it was answered. Nothing was changed.", 410
        )
    except InvalidState:
        return Outcome(False, "The run has ended: there is nothing left to decide.", 409)
    except InvalidAction as exc:
        return Outcome(False, str(exc), 422)
    words = ACTION_WORDS.get(parsed.action, parsed.action)
    if decided.status == "waiting":
        so_far = approvals_so_far(decided.approvals, decided.required)
        return Outcome(True, f"Thank you: {words} ({so_far}; waiting for the others).")
    return Outcome(True, f"Thank you: {words}.")


def is_reopened(hook: ReviewHook) -> bool:
    return hook.status == "resolved" and hook.action == "reopen"


def state_message(hook: ReviewHook) -> str | None:
    """What a page says instead of the form when the hook no longer waits (None: it waits)."""
    if is_reopened(hook) and hook.run_status not in ("completed", "failed", "cancelled"):
        return "Reopened: the new review is being prepared, and opens here as soon as it is ready."
    if hook.status == "resolved":
        who = f" by {hook.decided_by}" if hook.decided_by else ""
        when = f" on {hook.decided_at:%-d %b %Y at %H:%M UTC}" if hook.decided_at else ""
        return f"This request was already decided: {ACTION_WORDS.get(hook.action, hook.action)}{who}{when}."
    if hook.status == "expired" or (
        hook.status == "waiting" and hook.expires_at and _past(hook.expires_at)
    ):
        return "This request expired before anyone answered it. It can no longer be decided."
    if hook.status == "cancelled" or hook.run_status in (
        "completed",
        "failed",
        "cancelled",
    ):
        return "This run has ended: there is nothing left to decide."
    return None


def _past(when) -> bool:
    from datetime import UTC, datetime

    return when <= datetime.now(UTC)
