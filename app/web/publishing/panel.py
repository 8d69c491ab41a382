"""The publishing run's section of the run card: the posts as an editable list (while the schedule
is under review or running), what the run sleeps until, in the user's time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

from app.steps.posts import local_label
from app.steps.publishers import schedule as S

TEMPLATE = "partials/runs/publishing_panel.html"
FINAL = ("completed", "failed", "cancelled")
STATUS_LABELS = {
    "scheduled": "Scheduled",
    "publishing": "Publishing",
    "published": "Published",
    "skipped": "Skipped",
    "cancelled": "Cancelled",
    "failed": "Failed",
    "unpublished": "Not published",
}


def _state(post: dict, run_ended: bool) -> str:
    """What the badge says: a claimed post is failed once its publish failed (the owner decides
    what next), and not published if the run ended before it went out."""
    if post["status"] == "publishing" and post["error"]:
        return "failed"
    if post["status"] == "publishing" and run_ended:
        return "unpublished"
    return post["status"]


def _metrics(value) -> str:
    if not isinstance(value, dict) or not value.get("reported", True):
        return ""
    return f"{value.get('likes', 0)} likes · {value.get('shares', 0)} shares · {value.get('replies', 0)} replies"


def publishing_panel(run: dict) -> dict:
    """The panel of publishing runs (app/web/runs/panels.py): the schedule is read from its table (`load`)."""
    return {"template": TEMPLATE, "load": lambda conn: load_schedule(conn, run)}


async def load_schedule(conn: AsyncConnection, run: dict) -> dict:
    schedule = await S.get_schedule(conn, run["id"])
    if schedule is None or schedule["owner_id"] != run["owner_id"]:
        return {"state": None}  # the posts are not written yet: nothing to show
    zone = ZoneInfo(schedule["timezone"])
    open_ = schedule["state"] in ("review", "active") and run["status"] not in FINAL
    posts = []
    for post in await S.list_posts(conn, run["id"]):
        local = post["publish_at"].astimezone(zone)
        state = _state(post, run["status"] in FINAL)
        posts.append(
            {
                "id": post["id"],
                "number": post["number"],
                "body": post["body"],
                "status": state,
                "status_label": STATUS_LABELS.get(state, state),
                "when": local_label(post["publish_at"], schedule["timezone"], with_date=True),
                "short": local_label(post["publish_at"], schedule["timezone"]),
                "at": post["publish_at"],
                "local_value": local.strftime(
                    "%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M"
                ),
                "editable": open_ and post["status"] == "scheduled",
                "url": post["remote_url"],
                "error": post["error"],
                "metrics": _metrics(post["metrics"]),
            }
        )
    waiting_post = (
        run["status"] == "waiting"
        and run.get("wake_at")
        and schedule["state"] == "active"
        and any(h["status"] == "waiting" and h["kind"] == "webhook" for h in run["hooks"])
    )
    following = next((p for p in posts if p["status"] == "scheduled"), None)
    return {
        "run_id": str(run["id"]),
        "state": schedule["state"],
        "timezone": schedule["timezone"],
        "connector": schedule["connector_name"],
        "posts": posts,
        "open": open_,
        "sleeping_until": following["short"] if waiting_post and following else None,
        "next_number": following["number"] if following else None,
        "engagement_at": (
            local_label(run["wake_at"], schedule["timezone"])
            if run["status"] == "sleeping" and run.get("waiting_for") == "wait for engagement"
            else None
        ),
        "can_cancel_remaining": open_ and schedule["state"] == "active" and following is not None,
    }
