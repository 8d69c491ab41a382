"""Each checklist item is ticked by what the account really did (messages, runs, decisions,
downloads), never by a click on the checklist itself: the list cannot claim what did not happen."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection

from app.core.config import Settings

REPORT_WORKFLOW = "content-generation"  # the reviewed report (/report in the chat)

PROGRESS = """
SELECT u.checklist_dismissed_at IS NOT NULL AS dismissed,
       EXISTS (SELECT 1 FROM messages m JOIN conversations c ON c.id = m.conversation_id
               WHERE c.user_id = u.id AND m.role = 'user') AS chatted,
       EXISTS (SELECT 1 FROM runs r WHERE r.owner_id = u.id AND r.workflow = %(report)s) AS reported,
       EXISTS (SELECT 1 FROM hooks h JOIN runs r ON r.id = h.run_id
               WHERE h.owner_id = u.id AND r.workflow = %(report)s
                 AND h.status = 'resolved' AND h.action = 'approve') AS approved,
       EXISTS (SELECT 1 FROM artifacts a WHERE a.owner_id = u.id AND a.content_type = 'application/pdf'
                 AND a.first_downloaded_at IS NOT NULL) AS downloaded,
       t.monthly_runs, t.title AS tier_title
FROM users u JOIN tiers t ON t.name = u.tier WHERE u.id = %(user_id)s
"""
DISMISS = "UPDATE users SET checklist_dismissed_at = now() WHERE id = %(user_id)s AND checklist_dismissed_at IS NULL"


@dataclass(frozen=True)
class Item:
    label: str
    href: str
    done: bool
    help: str  # the Help page that explains it


async def checklist_for(conn: AsyncConnection, user, settings: Settings) -> list[Item] | None:
    """The items for this person, or None once they dismissed the checklist."""
    row = await (
        await conn.execute(PROGRESS, {"user_id": user.id, "report": REPORT_WORKFLOW})
    ).fetchone()
    if row is None or row["dismissed"]:
        return None
    items = [Item("Start a chat", "/chat", row["chatted"], "/help/chat")]
    if row["monthly_runs"] == 0:
        # A plan without workflow runs (Free) cannot do the next steps: say so instead of sending
        # the person to a form that refuses them.
        items.append(
            Item(
                f"Your plan ({row['tier_title']}) has no workflow runs: ask an admin for one that has",
                "/account",
                False,
                "/help/troubleshooting",
            )
        )
    else:
        items += [
            Item(
                "Run a reviewed report",
                "/chat/workflows/content-generation",
                row["reported"],
                "/help/workflows-and-approvals",
            ),
            Item("Approve it", "/approvals", row["approved"], "/help/workflows-and-approvals"),
            Item("Download the PDF", "/workflows", row["downloaded"], "/help/files-and-reports"),
        ]
    if user.is_admin:
        items += [
            Item(
                "Connect a model endpoint",
                "/admin/setup",
                not settings.offline_model,
                "/help/troubleshooting",
            ),
            Item(
                "Connect SMTP for mail",
                "/admin/setup",
                bool(settings.smtp_url),
                "/help/notifications",
            ),
        ]
    return items


async def dismiss(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(DISMISS, {"user_id": user_id})
