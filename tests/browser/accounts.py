"""Signing up through the real form, then giving the account the tier (and role) a test needs."""

from __future__ import annotations

import re

import psycopg
from playwright.sync_api import Page, expect

from tests.support.web import PASSWORD, new_email


def sign_up_on(
    page: Page, database_url: str, *, tier: str, prefix: str = "browser", admin: bool = False
) -> tuple[str, int]:
    """A new account made as a person makes one; returns its email and user id."""
    email = new_email(prefix)
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/chat$"))
    with psycopg.connect(database_url, autocommit=True) as conn:
        user_id = conn.execute(
            "UPDATE users SET tier = %s, is_admin = is_admin OR %s WHERE email = %s RETURNING id",
            (tier, admin, email),
        ).fetchone()[0]
    return email, user_id
