"""API keys: created (shown once), listed, revoked, and checked on every API request.

A key is "bk_" + 43 URL-safe random characters (256 bits). Only its SHA-256 is stored; the first
11 characters are kept in clear so people can tell their keys apart. Nothing is cached, so a
revoked key is refused on its very next request, by every web process.

A key belongs to one space (`space_id`; None: the holder's personal space) and acts there with its
holder's current role; the settings page and `baton apikey` list and revoke the keys of one space.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from psycopg import AsyncConnection

from app.core.policy import Space
from app.spaces.store import space_from

KEY_PREFIX = "bk_"
SHOWN_CHARS = 11  # "bk_" + 8: enough to recognise a key, far too little to guess the rest
MAX_ACTIVE_KEYS = 50
MAX_NAME = 100


class KeyLimitReached(Exception):
    pass


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # the only time the whole key exists outside the caller's hands
    prefix: str
    key_hash: str


@dataclass(frozen=True, slots=True)
class KeyOwner:
    key_id: int
    user_id: int
    email: str
    tier: str
    is_admin: bool
    space: Space  # the space the key acts in, with its holder's role there now


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> NewKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewKey(key, key[:SHOWN_CHARS], hash_key(key))


ACTIVE_COUNT = (
    "SELECT count(*) AS n FROM api_keys WHERE user_id = %(user_id)s AND revoked_at IS NULL"
)
INSERT = """
INSERT INTO api_keys (user_id, space_id, name, prefix, key_hash)
VALUES (%(user_id)s, %(space_id)s, %(name)s, %(prefix)s, %(hash)s)
RETURNING id, name, prefix, created_at, last_used_at, revoked_at
"""
# The space a call names, else the holder's personal space.
SPACE = "coalesce(%(space_id)s::bigint, (SELECT id FROM spaces WHERE personal_of = %(user_id)s))"
# Serialises one user's key creations, so the active-key limit holds under concurrent requests.
# (NO KEY UPDATE: foreign-key checks of rows referencing the user must not wait on it.)
LOCK_USER = "SELECT id FROM users WHERE id = %(user_id)s FOR NO KEY UPDATE"


async def create_key(
    conn: AsyncConnection, user_id: int, name: str, *, space_id: int | None = None
) -> tuple[str, dict]:
    """Returns the key (to show once) and its row. The caller checks the user's role there allows
    API keys (policy Action.USE_API); the key then acts with that role."""
    name = name.strip()[:MAX_NAME] or "API key"
    new = generate_key()
    async with conn.transaction():
        await conn.execute(LOCK_USER, {"user_id": user_id})
        active = (await (await conn.execute(ACTIVE_COUNT, {"user_id": user_id})).fetchone())["n"]
        if active >= MAX_ACTIVE_KEYS:
            raise KeyLimitReached(f"You have {MAX_ACTIVE_KEYS} active keys; revoke one first.")
        row = await (
            await conn.execute(
                INSERT,
                {
                    "user_id": user_id,
                    "space_id": space_id,
                    "name": name,
                    "prefix": new.prefix,
                    "hash": new.key_hash,
                },
            )
        ).fetchone()
    return new.key, row


LIST = (
    """
SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys
WHERE user_id = %(user_id)s AND space_id = """
    + SPACE
    + """
ORDER BY revoked_at IS NOT NULL, created_at DESC LIMIT 200
"""
)


async def list_keys(
    conn: AsyncConnection, user_id: int, *, space_id: int | None = None
) -> list[dict]:
    """The user's keys of the space: active first, newest first; revoked ones stay as a record."""
    return await (await conn.execute(LIST, {"user_id": user_id, "space_id": space_id})).fetchall()


REVOKE = (
    """
UPDATE api_keys SET revoked_at = now()
WHERE id = %(id)s AND user_id = %(user_id)s AND revoked_at IS NULL AND space_id = """
    + SPACE
    + " RETURNING id"
)
KEY_OF = (
    "SELECT id FROM api_keys WHERE id = %(id)s AND user_id = %(user_id)s AND space_id = " + SPACE
)


async def revoke_key(
    conn: AsyncConnection, user_id: int, key_id: int, *, space_id: int | None = None
) -> bool:
    """True when the key is (now or already) revoked; False when the user has no such key in the
    space."""
    if not 0 < key_id < 2**63:
        return False
    params = {"id": key_id, "user_id": user_id, "space_id": space_id}
    if await (await conn.execute(REVOKE, params)).fetchone():
        return True
    return await (await conn.execute(KEY_OF, params)).fetchone() is not None


# last_used_at is refreshed at most once a minute: reading runs should not write on every request.
# A key acts in its space with its holder's current role there: a key of a removed member matches no
# membership and stops working.
AUTHENTICATE = """
SELECT k.id AS key_id, u.id AS user_id, u.email, u.tier, u.is_admin,
       k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' AS stale,
       sp.id AS space_id, sp.kind AS space_kind, sp.name AS space_name, sp.slug AS space_slug,
       m.role AS space_role, coalesce(sp.tier, u.tier) AS space_tier
FROM api_keys k JOIN users u ON u.id = k.user_id
JOIN space_members m ON m.space_id = k.space_id AND m.user_id = k.user_id
JOIN spaces sp ON sp.id = k.space_id
WHERE k.key_hash = %(hash)s AND k.revoked_at IS NULL AND u.disabled_at IS NULL
"""
TOUCH = "UPDATE api_keys SET last_used_at = now() WHERE id = %(id)s"


async def authenticate(conn: AsyncConnection, key: str) -> KeyOwner | None:
    """The key's owner, or None for an unknown, revoked or disabled-owner key."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = await (await conn.execute(AUTHENTICATE, {"hash": hash_key(key)})).fetchone()
    if row is None:
        return None
    if row["stale"]:
        await conn.execute(TOUCH, {"id": row["key_id"]})
    return KeyOwner(
        row["key_id"], row["user_id"], row["email"], row["tier"], row["is_admin"], space_from(row)
    )
