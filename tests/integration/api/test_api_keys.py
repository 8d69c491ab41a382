"""API keys: the settings page (session + CSRF), shown once, stored hashed, revoked at once;
and `baton apikey create`."""

from __future__ import annotations

import asyncio
import hashlib
import re

from litestar.testing import AsyncTestClient

from tests.integration.api.conftest import baton
from tests.support.web import csrf_of, htmx, new_email, sign_up

KEY = re.compile(r"bk_[A-Za-z0-9_-]{43}")


async def create_key(client, name: str = "CI pipeline") -> str:
    page = await client.get("/settings/api-keys")
    response = await client.post(
        "/settings/api-keys", data={"name": name, "_csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 200, response.text
    [key] = set(KEY.findall(response.text))
    return key


async def test_the_page_needs_a_session_and_forms_need_the_csrf_token(app_client):
    assert (await app_client.get("/settings/api-keys")).headers["location"].startswith("/login")
    await sign_up(app_client)
    page = await app_client.get("/settings/api-keys")
    assert (
        page.status_code == 200
        and "No keys yet" in page.text
        and 'href="/settings/api-keys"' in page.text
    )
    boosted = await app_client.get(
        "/settings/api-keys", headers={"HX-Request": "true", "HX-Boosted": "true"}
    )
    assert (
        "<html" in boosted.text
    )  # following the nav link (hx-boost) is a page load, not a fragment
    refused = await app_client.post("/settings/api-keys", data={"name": "sneaky"})
    assert refused.status_code == 403
    assert "sneaky" not in (await app_client.get("/settings/api-keys")).text


async def test_a_key_is_shown_once_and_stored_only_as_its_hash(app_client, pool):
    email = await sign_up(app_client)
    key = await create_key(app_client)
    listed = await app_client.get("/settings/api-keys")
    assert key not in listed.text and key[:11] in listed.text and "CI pipeline" in listed.text
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT k.* FROM api_keys k JOIN users u ON u.id = k.user_id WHERE u.email = %s",
                (email,),
            )
        ).fetchone()
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(row.values()) and row["prefix"] == key[:11]
    works = await app_client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {key}"})
    assert works.status_code == 200


async def test_a_name_is_required(app_client):
    await sign_up(app_client)
    csrf = csrf_of((await app_client.get("/settings/api-keys")).text)
    response = await app_client.post(
        "/settings/api-keys", data={"name": "  ", "_csrf_token": csrf}, headers=htmx(csrf)
    )
    assert response.status_code == 422 and "Give the key a name" in response.text
    assert not KEY.search(response.text)


async def test_revoking_stops_the_key_at_once_in_every_process(
    app_client, model_settings, database_url
):
    from app.web.app import create_app

    await sign_up(app_client)
    key = await create_key(app_client, "to revoke")
    auth = {"Authorization": f"Bearer {key}"}
    async with AsyncTestClient(
        create_app(model_settings, database_url, run_worker=False)
    ) as other_process:
        assert (await other_process.get("/api/v1/runs", headers=auth)).status_code == 200
        page = await app_client.get("/settings/api-keys")
        key_id = re.search(r"/settings/api-keys/(\d+)/revoke", page.text).group(1)
        csrf = csrf_of(page.text)
        revoked = await app_client.post(f"/settings/api-keys/{key_id}/revoke", headers=htmx(csrf))
        assert (
            revoked.status_code == 200
            and "revoked" in revoked.text
            and 'id="api-keys"' in revoked.text
        )
        assert (await other_process.get("/api/v1/runs", headers=auth)).status_code == 401
    assert (await app_client.get("/api/v1/runs", headers=auth)).status_code == 401


async def test_someone_elses_key_cannot_be_revoked(app_client, pool):
    await sign_up(app_client)
    await create_key(app_client)
    page = await app_client.get("/settings/api-keys")
    theirs = re.search(r"/settings/api-keys/(\d+)/revoke", page.text).group(1)
    await sign_up(app_client)
    csrf = csrf_of((await app_client.get("/settings/api-keys")).text)
    response = await app_client.post(
        f"/settings/api-keys/{theirs}/revoke", data={"_csrf_token": csrf}
    )
    assert response.status_code == 404
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT revoked_at FROM api_keys WHERE id = %s", (int(theirs),))
        ).fetchone()
    assert row["revoked_at"] is None


async def test_baton_apikey_create_prints_the_key_last(api, database_url, tmp_path, pool, capsys):
    from types import SimpleNamespace

    from app.cli import apikey_cmd

    email = new_email("cli")
    async with pool.connection() as conn:
        user = await (
            await conn.execute(
                "INSERT INTO users (email, tier) VALUES (%s, 'pro') RETURNING id", (email,)
            )
        ).fetchone()
    made, unknown = await asyncio.gather(
        baton(database_url, tmp_path, "apikey", "create", email, "--name", "deploy bot"),
        baton(database_url, tmp_path, "apikey", "create", "nobody@example.test"),
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert KEY.fullmatch(key)
    assert (
        await api.get("/api/v1/workflows", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 200
    assert unknown.returncode == 1 and "no user" in unknown.stderr

    # `list` and `revoke` (their argument parsing shares `create`'s path, run above for real).
    async with pool.connection() as conn:
        await apikey_cmd.list_(SimpleNamespace(email=email), conn, user["id"])
        listed = capsys.readouterr().out
        assert "deploy bot" in listed and key[:11] in listed and key not in listed
        await apikey_cmd.revoke(
            SimpleNamespace(email=email, key_id=int(listed.split()[0])), conn, user["id"]
        )
    assert (
        await api.get("/api/v1/workflows", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 401
