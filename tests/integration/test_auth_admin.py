"""Admin pages: list and search users, change a tier, disable and enable, edit tier limits."""

import re

import pytest

from tests.support.web import csrf_of, htmx, log_in, make_user, new_email, sign_up, token


@pytest.fixture
async def admin(app_client, pool):
    user = await make_user(pool, new_email("admin"), is_admin=True, tier="enterprise")
    assert (await log_in(app_client, user.email)).status_code == 303
    return user


async def test_the_users_page_lists_and_searches(app_client, admin, pool):
    needle = await make_user(pool, new_email("needle"))
    page = await app_client.get("/admin/users")
    assert page.status_code == 200 and admin.email in page.text
    found = (await app_client.get("/admin/users", params={"q": "NEEDLE"})).text.split("<tbody>")[1]
    assert needle.email in found and admin.email not in found
    nothing = await app_client.get("/admin/users", params={"q": "%_no-such-user_%"})
    assert "No users match" in nothing.text


async def test_an_admin_changes_a_users_tier(app_client, admin, pool):
    user = await make_user(pool)
    csrf = await token(app_client, "/admin/users")
    row = await app_client.post(
        f"/admin/users/{user.id}/tier", data={"tier": "premium"}, headers=htmx(csrf)
    )
    assert row.status_code == 200 and re.search(r'<option value="premium" selected>', row.text)
    bad = await app_client.post(
        f"/admin/users/{user.id}/tier", data={"tier": "platinum"}, headers=htmx(csrf)
    )
    assert bad.status_code == 422 and "Choose one of" in bad.text
    async with pool.connection() as conn:
        assert (
            await (
                await conn.execute("SELECT tier FROM users WHERE id = %s", (user.id,))
            ).fetchone()
        )["tier"] == "premium"
    missing = await app_client.post(
        "/admin/users/999999999/tier", data={"tier": "pro"}, headers=htmx(csrf)
    )
    assert missing.status_code == 404


async def test_disabling_a_user_ends_their_sessions_and_enabling_lets_them_back(
    app_client, admin, model_settings, database_url
):
    from litestar.testing import AsyncTestClient

    from app.web.app import create_app

    async with AsyncTestClient(
        create_app(model_settings, database_url, run_worker=False)
    ) as victim:
        victim.follow_redirects = False
        email = await sign_up(victim)
        assert (await victim.get("/chat")).status_code == 200
        page = await app_client.get("/admin/users", params={"q": email})
        user_id = int(re.search(r'id="user-(\d+)"', page.text).group(1))
        csrf = csrf_of(page.text)
        row = await app_client.post(f"/admin/users/{user_id}/disable", headers=htmx(csrf))
        assert "Disabled" in row.text and "Enable" in row.text
        assert (await victim.get("/chat")).status_code == 303  # their session ended at once
        assert "disabled" in (await log_in(victim, email)).text
        await app_client.post(f"/admin/users/{user_id}/enable", headers=htmx(csrf))
        assert (await log_in(victim, email)).status_code == 303


async def test_an_admin_cannot_disable_themselves(app_client, admin):
    row = await app_client.post(
        f"/admin/users/{admin.id}/disable", headers=htmx(await token(app_client, "/admin/users"))
    )
    assert row.status_code == 422 and "cannot disable your own account" in row.text
    assert (await app_client.get("/admin/users")).status_code == 200


async def test_tier_limits_are_edited_and_validated(app_client, admin, pool):
    page = await app_client.get("/admin/tiers")
    assert all(
        f'id="tier-{name}"' in page.text for name in ("free", "pro", "premium", "enterprise")
    )
    csrf = csrf_of(page.text)
    async with pool.connection() as conn:
        before = await (await conn.execute("SELECT * FROM tiers WHERE name = 'premium'")).fetchone()
    try:
        bad = await app_client.post(
            "/admin/tiers/premium",
            headers=htmx(csrf),
            data={
                "title": "Premium",
                "monthly_runs": "-1",
                "chat_per_minute": "abc",
                "api_per_minute": "100",
            },
        )
        assert (
            bad.status_code == 422
            and "Must be at least 0." in bad.text
            and "Enter a whole number." in bad.text
        )
        assert 'value="abc"' in bad.text  # what was typed stays
        ok = await app_client.post(
            "/admin/tiers/premium",
            headers=htmx(csrf),
            data={
                "title": "Premium+",
                "monthly_runs": "",
                "chat_per_minute": "99",
                "api_per_minute": "1000",
            },
        )
        assert ok.status_code == 200 and "Saved" in ok.text
        async with pool.connection() as conn:
            after = await (
                await conn.execute("SELECT * FROM tiers WHERE name = 'premium'")
            ).fetchone()
        assert (after["title"], after["monthly_runs"], after["chat_per_minute"]) == (
            "Premium+",
            None,
            99,
        )
        assert (
            await app_client.post(
                "/admin/tiers/gold",
                headers=htmx(csrf),
                data={"title": "Gold", "chat_per_minute": "1", "api_per_minute": "1"},
            )
        ).status_code == 404
    finally:
        async with pool.connection() as conn:
            await conn.execute(
                "UPDATE tiers SET title = %(title)s, monthly_runs = %(monthly_runs)s, "
                "chat_per_minute = %(chat_per_minute)s, api_per_minute = %(api_per_minute)s "
                "WHERE name = 'premium'",
                before,
            )
