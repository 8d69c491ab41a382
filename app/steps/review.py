"""What a person deciding a hook is shown: the `show=` payload of a workflow's review hooks.

The chat's approval card, the inbox, the review page and the email all render hooks from this one
shape, so a new workflow gets every one of them by building its hooks with `review_request`:

    decision = await run.hook("review draft", "approval", show=review_request(
        heading="Review the draft", content=draft, label="Draft", note="Revision 1 of at most 5"))

Keys: heading, title (what is being decided on, for mail subjects), content (Markdown, shown sanitized), label, note, state ("review" or "expired"),
labels (button text per action), feedback_for (actions that need feedback text), edit (an
editable list: {"name", "label", "lines", "hint"}; its lines come back as `data[name]`).
"""

from __future__ import annotations

from collections.abc import Sequence

LABELS = {
    "approve": "Approve",
    "revise": "Request revision",
    "reject": "Reject",
    "iterate": "Iterate",
    "reopen": "Reopen review",
    "submit": "Submit",
}


def review_request(
    *,
    heading: str,
    content: str,
    title: str = "",
    label: str = "",
    note: str = "",
    state: str = "review",
    labels: dict[str, str] | None = None,
    feedback_for: Sequence[str] = ("revise", "iterate"),
    edit: dict | None = None,
) -> dict:
    return {
        "heading": heading,
        "title": title,
        "content": content,
        "label": label,
        "note": note,
        "state": state,
        "labels": {**LABELS, **(labels or {})},
        "feedback_for": list(feedback_for),
        "edit": edit,
    }
