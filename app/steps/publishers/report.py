"""The weekly analytics report of a publishing run: what went out when, and how it did.

Called from `run.transaction`, so the HTML and the PDF are stored exactly once with the journal
entry. Post texts are autoescaped by the report template (nothing from a model is trusted).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

from app.core.pdf import render_html, render_pdf
from app.steps.artifacts import file_stem, save_artifact
from app.steps.publishers.schedule import list_posts

STATUS_WORDS = {
    "published": "Published",
    "skipped": "Skipped",
    "cancelled": "Cancelled",
    "scheduled": "Not sent",
    "publishing": "Not confirmed",
}


def _engagement(metrics: Any) -> dict:
    metrics = metrics if isinstance(metrics, dict) else {}
    values = {k: int(metrics.get(k) or 0) for k in ("likes", "shares", "replies")}
    return values | {"total": sum(values.values()), "reported": bool(metrics.get("reported"))}


def analyse(posts: list[dict], timezone: str) -> dict:
    """Rows for the table, totals, the best post and engagement per day of the week."""
    zone = ZoneInfo(timezone)
    rows, days = [], OrderedDict()
    for post in posts:
        local = (post["published_at"] or post["publish_at"]).astimezone(zone)
        engagement = _engagement(post["metrics"])
        rows.append(
            {
                "number": post["number"],
                "when": local.strftime("%a %-d %b, %H:%M"),
                "status": post["status"],
                "status_label": STATUS_WORDS.get(post["status"], post["status"]),
                "text": post["body"],
                "url": post["remote_url"],
                "error": post["error"],
                **engagement,
            }
        )
        if post["status"] == "published":
            day = days.setdefault(
                local.strftime("%a %-d %b"),
                {"day": local.strftime("%a %-d %b"), "posts": 0, "total": 0},
            )
            day["posts"] += 1
            day["total"] += engagement["total"]
    published = [r for r in rows if r["status"] == "published"]
    totals = {
        "published": len(published),
        "skipped": sum(r["status"] == "skipped" for r in rows),
        "cancelled": sum(r["status"] == "cancelled" for r in rows),
        **{k: sum(r[k] for r in published) for k in ("likes", "shares", "replies", "total")},
    }
    best = max(published, key=lambda r: (r["total"], -r["number"]), default=None)
    peak = max((d["total"] for d in days.values()), default=0) or 1
    return {
        "rows": rows,
        "totals": totals,
        "best": best if best and best["total"] else None,
        "days": [d | {"width": round(100 * d["total"] / peak)} for d in days.values()],
    }


def summary_markdown(title: str, data: dict, metrics_fetched: bool) -> str:
    t = data["totals"]
    lines = [
        f"**{title}**",
        "",
        f"- Published: **{t['published']}** · skipped: {t['skipped']} · cancelled: {t['cancelled']}",
    ]
    if metrics_fetched:
        lines.append(
            f"- Engagement: {t['likes']} likes, {t['shares']} shares, {t['replies']} replies"
        )
        if data["best"]:
            lines.append(
                f"- Best post: #{data['best']['number']} ({data['best']['total']} interactions)"
            )
    else:
        lines.append("- Engagement: not available (the connector reported none)")
    lines += ["", "The full report is attached as HTML and PDF."]
    return "\n".join(lines)


async def save_report(
    conn: AsyncConnection,
    *,
    run_id: Any,
    owner_id: int,
    title: str,
    timezone: str,
    when: datetime,
    metrics_fetched: bool,
) -> dict:
    posts = await list_posts(conn, run_id)
    data = analyse(posts, timezone)
    context = {
        "title": title,
        "date": when.astimezone(ZoneInfo(timezone)).strftime("%-d %B %Y"),
        "timezone": timezone,
        "metrics_fetched": metrics_fetched,
        **data,
    }
    html = render_html("publishing.html", **context)
    pdf = await asyncio.to_thread(render_pdf, "publishing.html", **context)
    stem = file_stem(title)
    artifacts = {
        "html": await save_artifact(
            conn,
            owner_id=owner_id,
            run_id=run_id,
            name=f"{stem}.html",
            content_type="text/html; charset=utf-8",
            data=html.encode(),
        ),
        "pdf": await save_artifact(
            conn,
            owner_id=owner_id,
            run_id=run_id,
            name=f"{stem}.pdf",
            content_type="application/pdf",
            data=pdf,
        ),
    }
    return {
        "summary": summary_markdown(title, data, metrics_fetched),
        "artifacts": artifacts,
        "totals": data["totals"],
    }
