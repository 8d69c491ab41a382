"""Invitations to a team: an admin invites an e-mail address with a role; the mail carries a link
with a random token (only its SHA-256 is stored) that works once, for `VALID_DAYS` days, unless an
admin revokes it first. Accepting adds the membership, in the transaction that uses the link; a
used, revoked or expired link grants nothing and says which it is.

The link is for the invited address: a signed-in person with another e-mail is told so, and a
person without an account signs up through it with that address."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from psycopg import AsyncConnection

from app.core import audit, ratelimit
from app.core.mail import queue_mail, render_mail
from app.core.policy import Space
from app.core.sql_queries import load_queries
from app.spaces.teams import TeamError, add_member

SQL = load_queries(__file__)
INSERT_INVITATION = SQL["insert_invitation"]
PENDING_INVITATIONS = SQL["pending_invitations"]
REVOKE_INVITATION = SQL["revoke_invitation"]
REPLACE_PENDING = SQL["replace_pending"]
INVITATION_BY_TOKEN = SQL["invitation_by_token"]
USE_INVITATION = SQL["use_invitation"]
ALREADY_MEMBER = SQL["already_member"]

VALID_DAYS = 7
# Invitations send mail to addresses an admin types: a team sends at most this many an hour.
INVITATIONS_PER_HOUR = 50
INVITABLE_ROLES = ("admin", "member", "viewer")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")

UNUSABLE = {
    "used": "This invitation has already been used. Ask the team's admins for a new one.",
    "revoked": "This invitation was revoked by the team's admins.",
    "replaced": "This invitation was replaced by a newer one to the same address: "
    "use the link in the latest invitation e-mail.",
    "expired": f"This invitation has expired (links are good for {VALID_DAYS} days). "
    "Ask the team's admins for a new one.",
    "unknown": "This invitation link is not valid. Check that you copied all of it.",
    "other_email": "This invitation is for another e-mail address.",
}


class InvitationUnusable(TeamError):
    def __init__(self, reason: str):
        super().__init__(UNUSABLE[reason])
        self.reason = reason


@dataclass(frozen=True)
class Invitation:
    id: int
    space_id: int
    email: str
    role: str
    team_name: str
    team_slug: str
    status: str  # pending, used, replaced, revoked, expired
    expires_at: object


def invitations_sent(space_id: int) -> ratelimit.RateLimit:
    return ratelimit.RateLimit(f"invitations:{space_id}", INVITATIONS_PER_HOUR, 3600)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/invitations/{token}"


async def invite(
    conn: AsyncConnection,
    team: Space,
    email: str,
    role: str,
    *,
    actor_id: int,
    actor_email: str,
    base_url: str,
) -> str:
    """Store the invitation, queue its mail and write the audit log, in one transaction; returns
    the link's token (for tests and the CLI: it is not stored). An earlier pending invitation of the
    team to the same address is revoked as replaced by this one (the team's invitations are
    serialised by the rate limit's lock, so two at once cannot both stay pending)."""
    if role not in INVITABLE_ROLES:
        raise TeamError(f"Invite as one of {', '.join(INVITABLE_ROLES)}.")
    token = secrets.token_urlsafe(32)
    async with conn.transaction():
        params = {"space_id": team.id, "email": email}
        if await (await conn.execute(ALREADY_MEMBER, params)).fetchone():
            raise TeamError(f"{email.lower()} is already a member of {team.name}.")
        wait = await ratelimit.take(conn, invitations_sent(team.id))
        if wait:
            raise TeamError(
                f"This team has sent {INVITATIONS_PER_HOUR} invitations in the last hour. "
                f"Try again in {ratelimit.describe_wait(wait)}."
            )
        row = await (
            await conn.execute(
                INSERT_INVITATION,
                {
                    "space_id": team.id,
                    "email": email,
                    "role": role,
                    "token_hash": token_hash(token),
                    "actor_id": actor_id,
                    "days": VALID_DAYS,
                },
            )
        ).fetchone()
        replaced = await (
            await conn.execute(
                REPLACE_PENDING,
                {"space_id": team.id, "email": email, "new_id": row["id"], "actor_id": actor_id},
            )
        ).fetchall()
        mail = render_mail(
            "team_invitation",
            team_name=team.name,
            role=role,
            inviter=actor_email,
            url=link(base_url, token),
            days=VALID_DAYS,
        )
        await queue_mail(
            conn,
            to=row["email"],
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            kind="team_invitation",
        )
        await audit.record(
            conn,
            space_id=team.id,
            actor_id=actor_id,
            action="invitation.send",
            object_kind="invitation",
            object_id=row["id"],
            detail={"email": row["email"], "role": role}
            | ({"replaces": [r["id"] for r in replaced]} if replaced else {}),
        )
    return token


async def pending(conn: AsyncConnection, space_id: int) -> list[dict]:
    return await (await conn.execute(PENDING_INVITATIONS, {"space_id": space_id})).fetchall()


async def revoke(conn: AsyncConnection, team: Space, invitation_id: int, *, actor_id: int) -> bool:
    """False when there is no such pending invitation in this team."""
    if not 0 < invitation_id < 2**63:
        return False
    async with conn.transaction():
        row = await (
            await conn.execute(
                REVOKE_INVITATION,
                {"id": invitation_id, "space_id": team.id, "actor_id": actor_id},
            )
        ).fetchone()
        if row is None:
            return False
        await audit.record(
            conn,
            space_id=team.id,
            actor_id=actor_id,
            action="invitation.revoke",
            object_kind="invitation",
            object_id=invitation_id,
            detail={"email": row["email"], "role": row["role"]},
        )
    return True


async def find(conn: AsyncConnection, token: str) -> Invitation | None:
    if not TOKEN.match(token or ""):
        return None
    row = await (
        await conn.execute(INVITATION_BY_TOKEN, {"token_hash": token_hash(token)})
    ).fetchone()
    return Invitation(**row) if row else None


async def accept(conn: AsyncConnection, token: str, *, user_id: int, email: str) -> Invitation:
    """Use the invitation for the signed-in `user_id` (whose address must be the invited one):
    they become a member with the invited role (a present member keeps theirs). Raises
    InvitationUnusable with the reason otherwise."""
    async with conn.transaction():
        found = await find(conn, token)
        if found is None:
            raise InvitationUnusable("unknown")
        if found.status != "pending":
            raise InvitationUnusable(found.status)
        if found.email != email.lower():
            raise InvitationUnusable("other_email")
        used = await (
            await conn.execute(
                USE_INVITATION, {"token_hash": token_hash(token), "user_id": user_id}
            )
        ).fetchone()
        if used is None:  # taken (or revoked) since `find`, by a concurrent request
            again = await find(conn, token)
            raise InvitationUnusable(again.status if again else "unknown")
        team = Space(found.space_id, "team", found.team_name, found.team_slug, "admin", "")
        await add_member(conn, team, user_id, used["role"], actor_id=user_id, via="invitation")
    return found
