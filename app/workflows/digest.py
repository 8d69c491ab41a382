"""The daily digest: one mail a day per user, listing the notices they chose to get "as a daily
digest" at /settings/notifications (collected in `digest_items` by app/workflows/notices.py).

A periodic job looks every DIGEST_EVERY for users with collected notices whose local time (their
`users.time_zone`, UTC when they have none) is past DIGEST_HOUR, and sends each one mail with all
their collected notices. `mail_digests` has UNIQUE (user_id, local day): the digest goes out at
most once per user per day, however many workers run the job at the same moment; notices that
arrive after today's digest wait for tomorrow's.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from psycopg import AsyncConnection

from app.core import runtime
from app.core.local_time import zone_of
from app.core.mail import queue_mail, render_mail
from app.core.notify_prefs import KINDS, prefs_for
from app.core.queue import DAILY_DIGEST, queue
from app.core.unsubscribe import unsubscribe_url

log = logging.getLogger("baton.digest")

DIGEST_HOUR = 8  # local time, so the digest is there when the day starts

WITH_PENDING = """
SELECT u.id, u.email, u.time_zone FROM users u
WHERE u.disabled_at IS NULL AND EXISTS (SELECT 1 FROM digest_items d WHERE d.user_id = u.id AND d.digest_id IS NULL)
"""
CLAIM_DAY = """
INSERT INTO mail_digests (user_id, day) VALUES (%(user_id)s, %(day)s)
ON CONFLICT (user_id, day) DO NOTHING RETURNING id
"""
TAKE_ITEMS = """
UPDATE digest_items SET digest_id = %(digest_id)s WHERE user_id = %(user_id)s AND digest_id IS NULL
RETURNING kind, title, url, created_at
"""
UNCLAIM = "DELETE FROM mail_digests WHERE id = %(id)s"
NOTE_MAIL = "UPDATE mail_digests SET mail_id = %(mail_id)s WHERE id = %(id)s"


async def send_due_digests(conn: AsyncConnection, now: datetime | None = None) -> int:
    """Send every digest that is due at `now`; returns how many were queued."""
    now = now or datetime.now(UTC)
    sent = 0
    for user in await (await conn.execute(WITH_PENDING)).fetchall():
        local = now.astimezone(zone_of(user["time_zone"]))
        if local.hour < DIGEST_HOUR:
            continue
        if await _send_one(conn, user, local):
            sent += 1
    return sent


async def _send_one(conn: AsyncConnection, user: dict, local: datetime) -> bool:
    settings = runtime.current().settings
    async with conn.transaction():
        claimed = await (
            await conn.execute(CLAIM_DAY, {"user_id": user["id"], "day": local.date()})
        ).fetchone()
        if claimed is None:  # today's digest is out already
            return False
        taken = await (
            await conn.execute(TAKE_ITEMS, {"digest_id": claimed["id"], "user_id": user["id"]})
        ).fetchall()
        # Only what the user still wants in a digest (they may have turned it off since).
        prefs = await prefs_for(conn, user["id"])
        items = [
            item
            for item in taken
            if item["kind"] in prefs and prefs[item["kind"]].email == "digest"
        ]
        if not items:  # nothing left to tell (or another worker took it): no mail, no day used up
            await conn.execute(UNCLAIM, {"id": claimed["id"]})  # cascades to what was taken
            return False
        items.sort(key=lambda item: item["created_at"])
        tz = zone_of(user["time_zone"])
        groups = [
            (
                label,
                [
                    dict(item, at=item["created_at"].astimezone(tz).strftime("%-d %b, %H:%M"))
                    for item in items
                    if item["kind"] == kind
                ],
            )
            for kind, label in KINDS.items()
        ]
        unsubscribe = unsubscribe_url(settings, user["id"], "digest")
        mail = render_mail(
            "digest",
            groups=[g for g in groups if g[1]],
            count=len(items),
            day=local.strftime("%-d %b %Y"),
            zone_name=user["time_zone"] or "UTC",
            unsubscribe_url=unsubscribe,
            kind_label="Daily digest",
            settings_url=f"{settings.base_url}/settings/notifications",
        )
        mail_id = await queue_mail(
            conn,
            to=user["email"],
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            kind="digest",
            user_id=user["id"],
            unsubscribe_url=unsubscribe,
        )
        await conn.execute(NOTE_MAIL, {"mail_id": mail_id, "id": claimed["id"]})
    log.info(
        "digest.queued", extra={"user_id": user["id"], "items": len(items), "mail_id": mail_id}
    )
    return True


@queue.periodic(cron="*/10 * * * *")
@queue.task(name=DAILY_DIGEST, queueing_lock=DAILY_DIGEST, pass_context=True)
async def periodic_digest(context, timestamp: int) -> None:
    async with context.app.connector.pool.connection() as conn:
        await send_due_digests(conn)
