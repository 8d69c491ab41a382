"""Each user's notification settings: per kind of notice, e-mail (each / daily digest / off) and
the in-app bell. No row means the default below, so users who never opened the settings keep
Baton's behaviour from before the settings existed.

    prefs = await prefs_for(conn, user_id)        # {kind: Pref}
    await save_prefs(conn, user_id, prefs)
    await turn_off_email(conn, user_id, "review_needed")   # the unsubscribe link's one effect
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection


@dataclass(frozen=True)
class Pref:
    email: str  # each | digest | off
    in_app: bool


# The kinds, in the order the settings page lists them, with what the page calls them.
KINDS: dict[str, str] = {
    "review_needed": "A review or decision is needed",
    "reminder": "Reminders and expired reviews",
    "run_finished": "A run finished",
    "run_failed": "A run failed or was stopped",
}
# What an unsubscribe link can turn off: one kind, or the daily digest (every kind set to "digest").
MAIL_STREAMS: dict[str, str] = {**KINDS, "digest": "The daily digest"}
EMAIL_CHOICES: dict[str, str] = {"each": "Each time", "digest": "Daily digest", "off": "Never"}
DEFAULTS: dict[str, Pref] = {
    "review_needed": Pref("each", True),
    "reminder": Pref("each", True),
    "run_finished": Pref("off", True),
    "run_failed": Pref("off", True),
}

PREFS = "SELECT kind, email, in_app FROM notification_prefs WHERE user_id = %(user_id)s"
SAVE = """
INSERT INTO notification_prefs (user_id, kind, email, in_app)
VALUES (%(user_id)s, %(kind)s, %(email)s, %(in_app)s)
ON CONFLICT (user_id, kind) DO UPDATE SET email = EXCLUDED.email, in_app = EXCLUDED.in_app, updated_at = now()
"""
# Keeps the bell setting as it was (or its default) and changes nothing else.
EMAIL_OFF = """
INSERT INTO notification_prefs (user_id, kind, email, in_app)
VALUES (%(user_id)s, %(kind)s, 'off', %(default_in_app)s)
ON CONFLICT (user_id, kind) DO UPDATE SET email = 'off', updated_at = now()
"""
DIGEST_OFF = "UPDATE notification_prefs SET email = 'off', updated_at = now() WHERE user_id = %(user_id)s AND email = 'digest'"


async def prefs_for(conn: AsyncConnection, user_id: int) -> dict[str, Pref]:
    rows = await (await conn.execute(PREFS, {"user_id": user_id})).fetchall()
    prefs = dict(DEFAULTS)
    prefs.update(
        {row["kind"]: Pref(row["email"], row["in_app"]) for row in rows if row["kind"] in KINDS}
    )
    return prefs


async def save_prefs(conn: AsyncConnection, user_id: int, prefs: dict[str, Pref]) -> None:
    async with conn.transaction():
        for kind, pref in prefs.items():
            await conn.execute(
                SAVE, {"user_id": user_id, "kind": kind, "email": pref.email, "in_app": pref.in_app}
            )


async def turn_off_email(conn: AsyncConnection, user_id: int, kind: str) -> None:
    """E-mail off for `kind` (a key of MAIL_STREAMS); the bell and every other kind stay as they are."""
    if kind == "digest":
        await conn.execute(DIGEST_OFF, {"user_id": user_id})
        return
    await conn.execute(
        EMAIL_OFF, {"user_id": user_id, "kind": kind, "default_in_app": DEFAULTS[kind].in_app}
    )
