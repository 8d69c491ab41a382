"""Sign up, log in, log out, sessions, CSRF, login rate limits and the guards, over HTTP."""

import dataclasses
import hashlib

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from app.core.migrations import apply_migrations
from app.core.ratelimit import LOGIN_PER_ACCOUNT, LOGIN_PER_IP
from app.web.auth.accounts import set_disabled
from tests.support.web import PASSWORD, csrf_of, htmx, log_in, make_user, new_email, sign_up, token


async def user_row(pool, email):
    async with pool.connection() as conn:
        return await (
            await conn.execute("SELECT * FROM users WHERE email = %s", (email,))
        ).fetchone()


async def test_home_sends_visitors_to_login_and_members_to_the_chat(app_client):
    assert (await app_client.get("/")).headers["location"] == "/login"
    await sign_up(app_client)
    assert (await app_client.get("/")).headers["location"] == "/chat"


async def test_sign_up_logs_in_with_a_server_side_session(app_client, pool):
    email = await sign_up(app_client, new_email().upper())  # stored lower-cased
    page = await app_client.get("/chat")
    assert page.status_code == 200 and email.lower() in page.text and "Log out" in page.text
    cookie = app_client.cookies["baton_session"]
    async with pool.connection() as conn:
        sessions = await (
            await conn.execute(
                "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = %s",
                (email.lower(),),
            )
        ).fetchall()
    assert [s["id"] for s in sessions] == [
        hashlib.sha256(cookie.encode()).hexdigest()
    ]  # only a hash is stored


async def test_session_cookie_is_http_only_and_same_site(app_client):
    page = await app_client.get("/signup")
    response = await app_client.post(
        "/signup",
        data={"email": new_email(), "password": PASSWORD, "_csrf_token": csrf_of(page.text)},
    )
    cookie = response.headers["set-cookie"].lower()
    assert "baton_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie


async def test_later_sign_ups_get_the_default_tier(app_client, pool):
    await sign_up(app_client)
    email = await sign_up(app_client)
    row = await user_row(pool, email)
    assert (row["tier"], row["is_admin"]) == ("free", False)


async def test_first_account_of_a_fresh_install_is_an_admin_on_enterprise(
    fresh_database, model_settings
):
    from app.web.app import create_app

    url = fresh_database()
    apply_migrations(url)
    settings = dataclasses.replace(model_settings, database_url=url, default_tier="pro")
    async with AsyncTestClient(create_app(settings, url, run_worker=False)) as client:
        client.follow_redirects = False
        first, second = await sign_up(client), None
        client.cookies.clear()
        second = await sign_up(client)
        page = await client.get("/chat")
        assert "Admin" not in page.text.split("</nav>")[0]
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT email, tier, is_admin FROM users ORDER BY id").fetchall()
    assert rows == [(first, "enterprise", True), (second, "pro", False)]


async def test_sign_up_errors_are_shown_per_field_and_keep_the_email(app_client):
    taken = await sign_up(app_client)
    app_client.cookies.clear()
    page = await app_client.get("/signup")
    for email, password, message in [
        ("nope", PASSWORD, "valid email"),
        (new_email(), "short", "at least 8"),
        (taken, PASSWORD, "already exists"),
    ]:
        response = await app_client.post(
            "/signup",
            data={"email": email, "password": password, "_csrf_token": csrf_of(page.text)},
        )
        assert response.status_code == 422
        assert message in response.text and f'value="{email}"' in response.text
        assert password not in response.text.replace(PASSWORD, "") or password == PASSWORD


async def test_log_in_and_log_out(app_client):
    email = await sign_up(app_client)
    csrf = await token(app_client)
    response = await app_client.post("/logout", data={"_csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert (await app_client.get("/chat")).status_code == 303

    wrong = await log_in(app_client, email, "wrong password!")
    assert wrong.status_code == 422 and "Wrong email or password." in wrong.text
    unknown = await log_in(app_client, new_email())
    assert unknown.status_code == 422 and "Wrong email or password." in unknown.text
    right = await log_in(app_client, email.upper())
    assert right.status_code == 303 and right.headers["location"] == "/chat"
    assert (await app_client.get("/chat")).status_code == 200


async def test_logging_out_ends_the_session_on_the_server(app_client):
    await sign_up(app_client)
    stolen = app_client.cookies["baton_session"]
    await app_client.post("/logout", data={"_csrf_token": await token(app_client)})
    app_client.cookies.set("baton_session", stolen)
    assert (await app_client.get("/chat")).status_code == 303


async def test_log_in_returns_to_the_page_asked_for_but_never_off_site(app_client):
    email = await sign_up(app_client)
    app_client.cookies.clear()
    response = await app_client.get("/account")
    assert response.headers["location"] == "/login?next=/account"
    page = await app_client.get("/login?next=/account")
    for target, expected in [
        ("/account", "/account"),
        ("//evil.example/x", "/chat"),
        ("https://evil.example", "/chat"),
    ]:
        app_client.cookies.delete("baton_session")
        response = await app_client.post(
            "/login",
            data={
                "email": email,
                "password": PASSWORD,
                "next": target,
                "_csrf_token": csrf_of(page.text),
            },
        )
        assert response.headers["location"] == expected


async def test_login_is_rate_limited_per_account(app_client):
    email = await sign_up(app_client)
    app_client.cookies.clear()
    for _ in range(LOGIN_PER_ACCOUNT):
        assert (await log_in(app_client, email, "not the password")).status_code == 422
    blocked = await log_in(app_client, email)  # even the right password waits
    assert blocked.status_code == 429
    assert (
        "Too many failed login attempts. Try again in" in blocked.text
        and int(blocked.headers["retry-after"]) > 0
    )
    assert (
        await log_in(app_client, await sign_up(app_client))
    ).status_code == 303  # other accounts are fine


async def test_login_is_rate_limited_per_ip(app_client):
    for _ in range(LOGIN_PER_IP):
        assert (await log_in(app_client, new_email(), "guess")).status_code == 422
    blocked = await log_in(app_client, new_email(), "guess")
    assert blocked.status_code == 429 and "Too many failed login attempts" in blocked.text


async def test_a_disabled_account_is_logged_out_and_cannot_log_in(app_client, pool):
    email = await sign_up(app_client)
    row = await user_row(pool, email)
    async with pool.connection() as conn:
        await set_disabled(conn, row["id"], True)
    assert (await app_client.get("/chat")).status_code == 303
    refused = await log_in(app_client, email)
    assert refused.status_code == 422 and "disabled" in refused.text


async def test_log_out_everywhere_ends_every_session(app_client, model_settings, database_url):
    from app.web.app import create_app

    email = await sign_up(app_client)
    async with AsyncTestClient(create_app(model_settings, database_url, run_worker=False)) as other:
        other.follow_redirects = False
        assert (await log_in(other, email)).status_code == 303
        account = await app_client.get("/account")
        assert account.text.count("<tr>") >= 3  # header + two sessions
        response = await app_client.post(
            "/account/logout-everywhere", data={"_csrf_token": csrf_of(account.text)}
        )
        assert response.headers["location"] == "/login"
        assert (await other.get("/chat")).status_code == 303
    assert (await app_client.get("/chat")).status_code == 303


async def test_the_account_page_names_each_browser_and_its_times(app_client):
    app_client.headers["user-agent"] = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    )
    await sign_up(app_client)
    page = (await app_client.get("/account")).text
    assert "Firefox on Windows" in page and "this browser" in page
    assert page.count("<time datetime=") >= 2  # since, last seen


@pytest.mark.parametrize("path", ["/signup", "/login", "/chat", "/logout"])
async def test_a_form_post_without_the_csrf_token_is_rejected(app_client, path):
    await sign_up(app_client) if path in ("/chat", "/logout") else None
    response = await app_client.post(
        path, data={"email": new_email(), "password": PASSWORD, "content": "hi"}
    )
    assert response.status_code == 403
    assert "expired" in response.text


async def test_csrf_tokens_are_bound_to_the_session(app_client, model_settings, database_url):
    from app.web.app import create_app

    await sign_up(app_client)
    mine = await token(app_client)
    async with AsyncTestClient(create_app(model_settings, database_url, run_worker=False)) as other:
        other.follow_redirects = False
        await sign_up(other)
        theirs = await token(other)
        assert theirs != mine
        response = await other.post("/chat", data={"content": "hi"}, headers=htmx(mine))
        assert response.status_code == 403
    ok = await app_client.post("/chat", data={"content": "hi"}, headers=htmx(mine))
    assert ok.status_code == 200  # the header alone is enough for HTMX requests


async def test_guards_redirect_pages_tell_htmx_and_leave_the_api_alone(app_client):
    page = await app_client.get("/chat/1?x=1")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/chat/1%3Fx%3D1"
    fragment = await app_client.get(
        "/chat/1/title",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/chat/1"},
    )
    assert fragment.status_code == 401 and fragment.headers["hx-redirect"] == "/login?next=/chat/1"
    api = await app_client.get("/api/runs")
    assert api.status_code != 303 and "location" not in api.headers


async def test_admin_pages_are_for_admins_only(app_client, pool):
    await sign_up(app_client)
    assert (await app_client.get("/admin/users")).status_code == 403
    assert (await app_client.get("/admin/tiers")).status_code == 403
    app_client.cookies.clear()
    admin = await make_user(pool, is_admin=True)
    await log_in(app_client, admin.email)
    assert (await app_client.get("/admin/users")).status_code == 200


async def test_the_account_page_shows_this_months_usage_against_the_quota(app_client, pool):
    from datetime import UTC, datetime

    from app.engine.commands import start_run

    email = await sign_up(app_client)
    row = await user_row(pool, email)
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET tier = 'pro' WHERE id = %s", (row["id"],))
        for n in range(3):
            await start_run(
                conn,
                owner_id=row["id"],
                workflow="content-generation",
                input={"prompt": f"note {n}"},
            )
        await start_run(
            conn, owner_id=row["id"], workflow="selftest", input={"steps": 1}
        )  # operator: not quota
        await conn.execute(
            "UPDATE usage_monthly SET tokens_in = 12345, tokens_out = 678, cost_usd = 0.0123 "
            "WHERE user_id = %s AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date",
            (row["id"],),
        )
    page = await app_client.get("/account")
    assert page.status_code == 200
    assert "3 of 10" in page.text
    assert "12,345 in · 678 out" in page.text and "$0.0123" in page.text
    now = datetime.now(UTC)
    resets = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1)
    assert resets.strftime("%-d %B %Y") in page.text
