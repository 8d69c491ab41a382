"""A run's progress as its card, the dashboard and the run page show it: the bar (the run's overall
percent, which never goes back: app/engine/progress.py), the current phase's own count beside it, and
a fan-out held back by its rate limit said as such, with when the next call goes."""

from __future__ import annotations

from datetime import UTC, datetime

from app.core.ratelimit import describe_wait

STOPPED = ("failed", "cancelled")


def progress_bar(status: str, progress: dict | None) -> dict | None:
    """{done, total, percent, label, wait} for partials/runs/progress.html of a run with this
    `status` and `progress` (the column), or None: no bar. In templates: `run.status|run_progress(run.progress)`."""
    progress = progress or None
    if status == "completed":
        return {"done": 1, "total": 1, "percent": 100, "label": "Done", "wait": None}
    if not progress or not progress.get("total") or status in STOPPED:
        return None  # a run that stopped is not part-way through anything any more
    done, total = int(progress.get("done") or 0), int(progress["total"])
    percent = progress.get("percent")
    percent = round(float(percent)) if percent is not None else round(100 * done / total)
    label = progress.get("label") or ""
    if progress.get("span") and total > 1:
        label = f"{label} {done}/{total}".strip()
    return {
        "done": done,
        "total": total,
        "percent": max(0, min(100, percent)),
        "label": label,
        "wait": rate_wait(status, progress),
    }


def rate_wait(status: str, progress: dict) -> str | None:
    """'waiting for the model rate limit, next call in 12 s', while the run's fan-out is held back."""
    wait = progress.get("rate_wait") or {}
    if status != "running" or not wait.get("until"):
        return None
    left = (datetime.fromisoformat(wait["until"]) - datetime.now(UTC)).total_seconds()
    if left <= 0:
        return None
    what = (
        "the model rate limit"
        if str(wait.get("limit") or "").startswith("model")
        else "its rate limit"
    )
    when = f"{max(1, round(left))} s" if left <= 90 else describe_wait(left)
    return f"waiting for {what}, next call in {when}"
