"""`/triggers`: a person makes a trigger from the form (the secret shown once, with examples that
work), edits, rotates, disables and deletes it; another person's trigger is a 404 everywhere; every
form needs the CSRF token. A run a trigger started says so on its card, its page and in the API."""

from __future__ import annotations

import re

from app.triggers import store
from tests.integration.api.workflows import VISIBLE
from tests.support.web import csrf_of, sign_up

SECRET = re.compile(r'id="trigger-secret" type="text" readonly value="([^"]+)"')
TARGET = f"workflow:{VISIBLE}"
TRIGGER_LINK = re.compile(r'href="/triggers/([0-9a-f-]{36})"')


async def user_id_of(pool, email: str) -> int:
    async with pool.connection() as conn:
        return (
            await (await conn.execute("SELECT id FROM users WHERE email = %s", (email,))).fetchone()
        )["id"]


async def create_from_form(client, **fields) -> tuple[str, str, str]:
    """Fills the new-trigger form; returns (trigger id, secret, the page shown once)."""
    form = await client.get("/triggers/new", params={"workflow": VISIBLE})
    assert form.status_code == 200, form.text
    data = {
        "_csrf_token": csrf_of(form.text),
        "name": "CMS articles",
        "target": TARGET,
        "mapped_for": TARGET,
        "map.topic": "/article/title",
        "map.times": "",
        "auth_mode": "hmac",
        "rate_per_minute": "30",
    } | fields
    created = await client.post("/triggers", data=data)
    assert created.status_code == 200, created.text
    return (
        TRIGGER_LINK.search(created.text).group(1),
        SECRET.search(created.text).group(1),
        created.text,
    )


async def test_a_trigger_is_created_from_the_form_with_its_secret_shown_once(app_client, pool):
    await sign_up(app_client)
    trigger_id, secret, page = await create_from_form(app_client)
    assert secret.startswith("whsec_")
    assert "X-Baton-Signature" in page and f"/hooks/t/{trigger_id}" in page
    assert "--data-binary" in page and "hmac.new(" in page  # the curl and the Python examples
    listed = await app_client.get("/triggers")
    assert "CMS articles" in listed.text and "API test: echo" in listed.text
    detail = await app_client.get(f"/triggers/{trigger_id}")
    assert detail.status_code == 200 and secret not in detail.text  # shown once only
    assert "/article/title" in detail.text and "No deliveries yet" in detail.text


async def test_the_secret_page_is_not_cached(app_client):
    await sign_up(app_client)
    form = await app_client.get("/triggers/new")
    created = await app_client.post(
        "/triggers",
        data={
            "_csrf_token": csrf_of(form.text),
            "name": "Bearer one",
            "target": TARGET,
            "mapped_for": TARGET,
            "pass_through": "on",
            "auth_mode": "bearer",
            "rate_per_minute": "60",
        },
    )
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    assert SECRET.search(created.text).group(1).startswith("btt_")
    assert "Authorization: Bearer" in created.text


async def test_the_form_says_what_is_wrong_next_to_each_field(app_client):
    await sign_up(app_client)
    form = await app_client.get("/triggers/new")
    csrf = csrf_of(form.text)
    bad = await app_client.post(
        "/triggers",
        data={
            "_csrf_token": csrf,
            "name": "  ",
            "target": TARGET,
            "mapped_for": TARGET,
            "map.topic": "article/title",
            "auth_mode": "hmac",
            "rate_per_minute": "0",
        },
    )
    assert bad.status_code == 422
    assert "Give the trigger a name" in bad.text and "Must be at least 1" in bad.text
    bad_pointer = await app_client.post(
        "/triggers",
        data={
            "_csrf_token": csrf,
            "name": "x",
            "target": TARGET,
            "mapped_for": TARGET,
            "map.topic": "article/title",
            "auth_mode": "hmac",
            "rate_per_minute": "5",
        },
    )
    assert bad_pointer.status_code == 422 and "A JSON pointer starts with" in bad_pointer.text
    assert 'value="article/title"' in bad_pointer.text  # nothing typed is lost
    unknown = await app_client.post(
        "/triggers",
        data={
            "_csrf_token": csrf,
            "name": "x",
            "target": "workflow:no-such-workflow",
            "mapped_for": TARGET,
            "auth_mode": "hmac",
            "rate_per_minute": "5",
        },
    )
    assert unknown.status_code == 422 and "Choose what the trigger starts" in unknown.text


async def test_changing_the_target_shows_its_mapping_before_saving(app_client, pool):
    email = await sign_up(app_client)
    form = await app_client.get("/triggers/new")
    fragment = await app_client.get(
        "/triggers/mapping", params={"target": TARGET}, headers={"HX-Request": "true"}
    )
    assert 'name="map.topic"' in fragment.text and 'value="/topic"' in fragment.text
    shown = await app_client.post(
        "/triggers",
        data={
            "_csrf_token": csrf_of(form.text),
            "name": "x",
            "target": TARGET,
            "mapped_for": "workflow:another-workflow",
            "auth_mode": "hmac",
            "rate_per_minute": "5",
        },
    )
    assert (
        shown.status_code == 200
        and 'name="map.topic"' in shown.text
        and "Check how the body maps" in shown.text
    )
    async with pool.connection() as conn:
        assert await store.list_triggers(conn, await user_id_of(pool, email)) == []


async def test_edit_rotate_disable_enable_and_delete(app_client, pool):
    email = await sign_up(app_client)
    owner = await user_id_of(pool, email)
    trigger_id, secret, _ = await create_from_form(app_client)
    csrf = csrf_of((await app_client.get(f"/triggers/{trigger_id}/edit")).text)
    saved = await app_client.post(
        f"/triggers/{trigger_id}/edit",
        data={
            "_csrf_token": csrf,
            "name": "Renamed",
            "target": TARGET,
            "mapped_for": TARGET,
            "map.topic": "/t",
            "map.times": "/n",
            "rate_per_minute": "7",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/triggers/{trigger_id}"
    async with pool.connection() as conn:
        row = await store.get_trigger(conn, trigger_id, owner)
    assert (row["name"], row["mapping"], row["rate_per_minute"], row["auth_mode"]) == (
        "Renamed",
        {"topic": "/t", "times": "/n"},
        7,
        "hmac",
    )

    rotated = await app_client.post(
        f"/triggers/{trigger_id}/rotate", data={"_csrf_token": csrf, "auth_mode": "bearer"}
    )
    new_secret = SECRET.search(rotated.text).group(1)
    assert (
        new_secret.startswith("btt_")
        and new_secret != secret
        and "The old one no longer works" in rotated.text
    )

    assert (
        await app_client.post(f"/triggers/{trigger_id}/disable", data={"_csrf_token": csrf})
    ).status_code == 303
    assert "disabled: deliveries get 404" in (await app_client.get(f"/triggers/{trigger_id}")).text
    assert (
        await app_client.post(f"/triggers/{trigger_id}/enable", data={"_csrf_token": csrf})
    ).status_code == 303
    async with pool.connection() as conn:
        assert (await store.get_trigger(conn, trigger_id, owner))["enabled"]
    deleted = await app_client.post(f"/triggers/{trigger_id}/delete", data={"_csrf_token": csrf})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/triggers"
    assert (await app_client.get(f"/triggers/{trigger_id}")).status_code == 404


async def test_another_persons_trigger_is_404_on_every_page_and_action(app_client, pool):
    await sign_up(app_client)
    trigger_id, _, _ = await create_from_form(app_client)
    await sign_up(app_client)  # someone else, in the same browser
    csrf = csrf_of((await app_client.get("/triggers")).text)
    assert "CMS articles" not in (await app_client.get("/triggers")).text
    for path in ("", "/edit", "/deliveries"):
        assert (await app_client.get(f"/triggers/{trigger_id}{path}")).status_code == 404
    for action in ("edit", "rotate", "enable", "disable", "delete"):
        response = await app_client.post(
            f"/triggers/{trigger_id}/{action}",
            data={
                "_csrf_token": csrf,
                "name": "mine now",
                "target": TARGET,
                "mapped_for": TARGET,
                "rate_per_minute": "5",
            },
        )
        assert response.status_code == 404, action
    for junk in ("not-a-uuid", "00000000-0000-0000-0000-000000000000", "%00"):
        assert (await app_client.get(f"/triggers/{junk}")).status_code == 404


async def test_every_trigger_form_needs_the_csrf_token(app_client):
    await sign_up(app_client)
    trigger_id, _, _ = await create_from_form(app_client)
    form = {
        "name": "x",
        "target": TARGET,
        "mapped_for": TARGET,
        "auth_mode": "hmac",
        "rate_per_minute": "5",
    }
    for path in (
        "/triggers",
        f"/triggers/{trigger_id}/edit",
        f"/triggers/{trigger_id}/rotate",
        f"/triggers/{trigger_id}/enable",
        f"/triggers/{trigger_id}/disable",
        f"/triggers/{trigger_id}/delete",
    ):
        assert (await app_client.post(path, data=form)).status_code == 403, path
    assert (
        await app_client.get(f"/triggers/{trigger_id}")
    ).status_code == 200  # nothing was deleted


async def test_signed_out_people_are_sent_to_log_in(app_client):
    app_client.cookies.clear()
    response = await app_client.get("/triggers")
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]
