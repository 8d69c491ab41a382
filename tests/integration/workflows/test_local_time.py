"""Local time everywhere: the zone the browser sent at sign-up is kept (a bad one is ignored), it can
be changed in settings (checked as an IANA name), pages show dates in it with the zone named, and a
reviewer's mail names the deadline in the reviewer's own zone."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from tests.integration.workflows.conftest import waiting_hook
from tests.integration.workflows.web import post_htmx, run_ids
from tests.support.engine import make_user, start
from tests.support.web import PASSWORD, csrf_of, new_email, token


async def sign_up_with_zone(client, zone: str) -> str:
    email = new_email("tz")
    client.cookies.clear()
    page = await client.get("/signup")
    response = await client.post(
        "/signup",
        data={
            "email": email,
            "password": PASSWORD,
            "time_zone": zone,
            "_csrf_token": csrf_of(page.text),
        },
    )
    assert response.status_code == 303, response.text
    return email


async def zone_of(pool, email: str) -> str | None:
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT time_zone FROM users WHERE email = %s", (email,))
        ).fetchone()
    return row["time_zone"]


async def test_the_browsers_zone_is_kept_at_sign_up_and_a_bad_one_ignored(app_client, pool):
    assert (
        await zone_of(pool, await sign_up_with_zone(app_client, "Europe/Paris")) == "Europe/Paris"
    )
    assert (
        await zone_of(pool, await sign_up_with_zone(app_client, "../../etc/passwd")) is None
    )  # UTC
    assert await zone_of(pool, await sign_up_with_zone(app_client, "")) is None


async def test_the_zone_is_edited_in_settings_and_used_on_every_page(
    app_client, pool, worker, agents
):
    email = await sign_up_with_zone(app_client, "")
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET tier = 'pro' WHERE email = %s", (email,))
    response = await post_htmx(
        app_client, "/chat/workflows/content-generation", {"prompt": "Zoned"}
    )
    [run_id] = run_ids((await app_client.get(response.headers["HX-Location"])).text)
    await waiting_hook(pool, run_id, "review draft")
    dashboard = await app_client.get("/workflows")
    assert re.search(
        r"\d{1,2} \w{3} \d{4}, \d\d:\d\d UTC", dashboard.text
    )  # not set yet: UTC, and it says so

    csrf = await token(app_client, "/settings/display")
    bad = await app_client.post(
        "/settings/display", data={"time_zone": "Mars/Olympus", "_csrf_token": csrf}
    )
    assert bad.status_code == 422 and "is not a time zone name" in bad.text
    assert await zone_of(pool, email) is None
    good = await app_client.post(
        "/settings/display", data={"time_zone": "Asia/Tokyo", "_csrf_token": csrf}
    )
    assert good.status_code == 200 and "Saved" in good.text and " JST" in good.text
    assert await zone_of(pool, email) == "Asia/Tokyo"

    dashboard = await app_client.get("/workflows")
    assert (
        re.search(r"\d{1,2} \w{3} \d{4}, \d\d:\d\d JST", dashboard.text)
        and " UTC<" not in dashboard.text
    )
    run_page = await app_client.get(f"/workflows/{run_id}")
    # Each in a <time datetime> (the instant itself), read in the reader's zone.
    at = r'<time datetime="[^"]+">'
    assert re.search(rf"started {at}\d{{1,2}} \w{{3}} \d{{4}}, \d\d:\d\d JST</time>", run_page.text)
    assert re.search(
        rf"expires {at}\d{{1,2}} \w{{3}} \d{{4}}, \d\d:\d\d JST</time> \(in 2[34] h\)",
        run_page.text,
    )  # and how long is left
    assert (
        " UTC<" not in run_page.text
    )  # the steps' waterfall too (its time macros see the reader's zone)
    assert re.search(r"\d\d:\d\d:\d\d JST", run_page.text)
    inbox = await app_client.get("/approvals")
    assert "just now" in inbox.text and re.search(
        r'title="\d{1,2} \w{3} \d{4}, \d\d:\d\d JST"', inbox.text
    )

    unset = await app_client.post("/settings/display", data={"time_zone": "", "_csrf_token": csrf})
    assert unset.status_code == 200 and await zone_of(pool, email) is None


async def test_settings_need_a_login(app_client):
    app_client.cookies.clear()
    response = await app_client.get("/settings/display", follow_redirects=False)
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]


async def test_a_reviewers_mail_names_the_deadline_in_their_zone(pool, worker, agents):
    user = await make_user(pool, "pro")
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET time_zone = 'America/New_York' WHERE id = %s", (user,))
        email = (
            await (await conn.execute("SELECT email FROM users WHERE id = %s", (user,))).fetchone()
        )["email"]
    run = await start(pool, user, "content-generation", prompt="Zoned mail")
    hook = await waiting_hook(pool, run.id, "review draft")
    async with pool.connection() as conn:
        mail = await (
            await conn.execute("SELECT * FROM mail_outbox WHERE hook_id = %s", (hook["id"],))
        ).fetchone()
    assert mail["to_addr"] == email
    local = hook["expires_at"].astimezone(ZoneInfo("America/New_York"))
    expected = f"{local:%-d %b %Y, %H:%M} {local.tzname()}"
    assert expected in mail["body_text"] and expected in mail["body_html"]
