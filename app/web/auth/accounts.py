"""Accounts: creating them (the first one is the admin), logging in under rate limits, tiers and
disabling. Used by the auth routes, the admin pages and `baton user`."""

from __future__ import annotations

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.core import ratelimit
from app.web.auth.passwords import hash_password, verify_password
from app.web.auth.sessions import end_all_sessions
from app.web.auth.user import CurrentUser

FIRST_ACCOUNT_TIER = "enterprise"
# Serialises account creation so that exactly one account can be "the first".
FIRST_ACCOUNT_LOCK = 0x0BA7_0A01


class AccountError(Exception):
    """A user-facing problem with one form field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class LoginRefused(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class _Throttled(Exception):
    def __init__(self, wait: float):
        self.wait = wait


IS_FIRST = "SELECT pg_advisory_xact_lock(%(lock)s), NOT EXISTS (SELECT 1 FROM users) AS first"
CREATE_USER = """
INSERT INTO users (email, password_hash, tier, is_admin, time_zone)
VALUES (%(email)s, %(hash)s, %(tier)s, %(is_admin)s, %(time_zone)s)
ON CONFLICT (email) DO NOTHING
RETURNING id, email, tier, is_admin, time_zone
"""


async def create_account(
    conn: AsyncConnection,
    email: str,
    password_hash: str,
    *,
    tier: str,
    is_admin: bool = False,
    explicit_tier: bool = False,
    time_zone: str | None = None,
) -> CurrentUser:
    """The first account on a fresh install becomes an admin on `enterprise` (unless a tier was
    given explicitly), so a newcomer can try everything at once."""
    async with conn.transaction():
        first = (await (await conn.execute(IS_FIRST, {"lock": FIRST_ACCOUNT_LOCK})).fetchone())[
            "first"
        ]
        if first:
            is_admin = True
            tier = tier if explicit_tier else FIRST_ACCOUNT_TIER
        try:
            row = await (
                await conn.execute(
                    CREATE_USER,
                    {
                        "email": email.lower(),
                        "hash": password_hash,
                        "tier": tier,
                        "is_admin": is_admin,
                        "time_zone": time_zone,
                    },
                )
            ).fetchone()
        except psycopg.errors.ForeignKeyViolation:
            raise AccountError("tier", f"There is no tier called {tier!r}.") from None
    if row is None:
        raise AccountError("email", "An account with this email already exists. Log in instead?")
    return CurrentUser(row["id"], row["email"], row["tier"], row["is_admin"], row["time_zone"])


async def sign_up(
    pool: AsyncConnectionPool,
    email: str,
    password: str,
    *,
    tier: str,
    ip: str,
    time_zone: str | None = None,
) -> CurrentUser:
    async with pool.connection() as conn:
        wait = await ratelimit.take(conn, ratelimit.signups_from_ip(ip))
    if wait:
        raise AccountError(
            "email",
            f"Too many sign-ups from your network. Try again in {ratelimit.describe_wait(wait)}.",
        )
    password_hash = await hash_password(password)
    async with pool.connection() as conn:
        return await create_account(conn, email, password_hash, tier=tier, time_zone=time_zone)


FIND_FOR_LOGIN = """
SELECT id, email, password_hash, tier, is_admin, disabled_at IS NOT NULL AS disabled
FROM users WHERE email = %(email)s
"""


async def log_in(pool: AsyncConnectionPool, email: str, password: str, *, ip: str) -> CurrentUser:
    """Check the password under both rate limits; raises LoginRefused with a message to show.
    Attempts are counted before the password is checked, so parallel guesses cannot slip past."""
    email = email.lower()
    per_account, per_ip = (
        ratelimit.login_attempts_for_account(email),
        ratelimit.login_attempts_from_ip(ip),
    )
    async with pool.connection() as conn:
        try:
            async with conn.transaction():
                wait = max(
                    await ratelimit.take(conn, per_account),
                    await ratelimit.take(conn, per_ip),
                )
                if wait:
                    raise _Throttled(wait)  # rolls back: a refused attempt is not counted
        except _Throttled as throttled:
            raise LoginRefused(
                f"Too many failed login attempts. Try again in "
                f"{ratelimit.describe_wait(throttled.wait)}.",
                retry_after=throttled.wait,
            ) from None
        row = await (await conn.execute(FIND_FOR_LOGIN, {"email": email})).fetchone()
    if not await verify_password(password, row["password_hash"] if row else None):
        raise LoginRefused("Wrong email or password.")
    if row["disabled"]:
        raise LoginRefused("This account is disabled. Ask an administrator to enable it.")
    async with pool.connection() as conn:
        await ratelimit.clear(conn, per_account)
        # The attempt was counted up front like any other; give the network its slot back.
        await ratelimit.refund_last(conn, per_ip)
    return CurrentUser(row["id"], row["email"], row["tier"], row["is_admin"])


SET_TIER = "UPDATE users SET tier = %(tier)s WHERE id = %(id)s RETURNING id"
SET_TIER_BY_EMAIL = "UPDATE users SET tier = %(tier)s WHERE email = %(email)s RETURNING id"


async def set_tier(
    conn: AsyncConnection, tier: str, *, user_id: int | None = None, email: str | None = None
) -> bool:
    """Move a user (by id or email) to a tier; False when there is no such user."""
    try:
        if user_id is not None:
            cur = await conn.execute(SET_TIER, {"tier": tier, "id": user_id})
        else:
            cur = await conn.execute(
                SET_TIER_BY_EMAIL, {"tier": tier, "email": (email or "").lower()}
            )
    except psycopg.errors.ForeignKeyViolation:
        raise AccountError("tier", f"There is no tier called {tier!r}.") from None
    return cur.rowcount == 1


SET_DISABLED = """
UPDATE users SET disabled_at = CASE WHEN %(disabled)s THEN coalesce(disabled_at, now()) END
WHERE id = %(id)s RETURNING id
"""


async def set_disabled(conn: AsyncConnection, user_id: int, disabled: bool) -> bool:
    """Disabling also ends every session of the user, so they are out at once."""
    async with conn.transaction():
        cur = await conn.execute(SET_DISABLED, {"id": user_id, "disabled": disabled})
        if disabled and cur.rowcount:
            await end_all_sessions(conn, user_id)
    return cur.rowcount == 1
