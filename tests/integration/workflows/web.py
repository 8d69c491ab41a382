"""HTTP helpers for the workflow web tests."""

from __future__ import annotations

import re

from tests.support.web import htmx, sign_up, token

CARD_URL = re.compile(r'hx-get="/chat/runs/([0-9a-f-]{36})/card"')


async def signed_in(client, pool, tier: str = "pro") -> tuple[str, int]:
    """A new account through the sign-up form, moved to `tier`; returns (email, user id)."""
    email = await sign_up(client)
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "UPDATE users SET tier = %s WHERE email = %s RETURNING id", (tier, email)
            )
        ).fetchone()
    return email, row["id"]


async def post_htmx(client, url: str, data: dict, path: str = "/chat"):
    return await client.post(url, data=data, headers=htmx(await token(client, path)))


def run_ids(html: str) -> list[str]:
    return CARD_URL.findall(html)
