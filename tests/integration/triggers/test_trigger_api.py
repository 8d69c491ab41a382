"""`/api/v1/triggers`: create (the secret once), list, read, disable, enable, rotate, delete with an
API key; bad bodies are 422 by field; another account's trigger is a 404. A run a trigger started
says so in the API, on its card and on its page."""

from __future__ import annotations

import json

from app.web.signed_json import signature
from tests.integration.api.conftest import new_account
from tests.integration.api.test_api_runs import error_of
from tests.integration.api.workflows import VISIBLE
from tests.support.web import sign_up

JSON = {"Content-Type": "application/json"}


async def test_a_trigger_is_made_used_and_managed_through_the_api(api, account, pool, worker):
    created = await api.post(
        "/api/v1/triggers",
        headers=account.headers,
        json={"name": "Build finished", "workflow": VISIBLE, "mapping": {"topic": "/build/branch"}},
    )
    assert created.status_code == 201, created.text
    trigger = created.json()
    assert (
        trigger["secret"].startswith("whsec_")
        and trigger["auth_mode"] == "hmac"
        and trigger["enabled"]
    )
    assert (
        trigger["url"].endswith(f"/hooks/t/{trigger['id']}")
        and trigger["secret_hint"] == trigger["secret"][:10]
    )

    listed = (await api.get("/api/v1/triggers", headers=account.headers)).json()["triggers"]
    assert [t["id"] for t in listed] == [trigger["id"]] and "secret" not in listed[0]
    assert (await api.get(f"/api/v1/triggers/{trigger['id']}", headers=account.headers)).json()[
        "name"
    ] == "Build finished"

    body = json.dumps({"build": {"branch": "main"}}).encode()
    delivered = await api.post(
        f"/hooks/t/{trigger['id']}",
        content=body,
        headers=JSON | {"X-Baton-Signature": signature(trigger["secret"], body)},
    )
    assert delivered.status_code == 202, delivered.text
    run = (
        await api.get(f"/api/v1/runs/{delivered.json()['run_id']}", headers=account.headers)
    ).json()
    assert (run["trigger_id"], run["trigger_name"], run["input"]["topic"]) == (
        trigger["id"],
        "Build finished",
        "main",
    )

    disabled = await api.post(f"/api/v1/triggers/{trigger['id']}/disable", headers=account.headers)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    error_of(
        await api.post(
            f"/hooks/t/{trigger['id']}",
            content=body,
            headers=JSON | {"X-Baton-Signature": signature(trigger["secret"], body)},
        ),
        404,
        "not_found",
    )
    assert (
        await api.post(f"/api/v1/triggers/{trigger['id']}/enable", headers=account.headers)
    ).json()["enabled"]

    rotated = await api.post(
        f"/api/v1/triggers/{trigger['id']}/rotate",
        headers=account.headers,
        json={"auth_mode": "bearer"},
    )
    assert rotated.status_code == 200 and rotated.json()["secret"].startswith("btt_")
    error_of(
        await api.post(
            f"/hooks/t/{trigger['id']}",
            content=body,
            headers=JSON | {"X-Baton-Signature": signature(trigger["secret"], body)},
        ),
        401,
        "unauthorized",
    )

    assert (
        await api.delete(f"/api/v1/triggers/{trigger['id']}", headers=account.headers)
    ).status_code == 204
    error_of(
        await api.get(f"/api/v1/triggers/{trigger['id']}", headers=account.headers),
        404,
        "not_found",
    )
    run = (
        await api.get(f"/api/v1/runs/{delivered.json()['run_id']}", headers=account.headers)
    ).json()
    assert (run["trigger_id"], run["trigger_name"]) == (
        None,
        "Build finished",
    )  # the run still says where it came from


async def test_bad_trigger_bodies_are_422_by_field(api, account):
    for body, field in (
        ({"name": "x", "workflow": "no-such"}, "workflow"),
        ({"name": "x", "workflow": VISIBLE, "mapping": {"topic": "no-slash"}}, "mapping.topic"),
        ({"name": "x", "workflow": VISIBLE, "mapping": {"colour": "/c"}}, "mapping.colour"),
        ({"name": "x", "workflow": VISIBLE, "auth_mode": "password"}, "auth_mode"),
        ({"name": "x", "workflow": VISIBLE, "rate_per_minute": 0}, "rate_per_minute"),
        ({"workflow": VISIBLE}, "name"),
    ):
        error = error_of(
            await api.post("/api/v1/triggers", headers=account.headers, json=body),
            422,
            "invalid_input",
        )
        assert field in [f["field"] for f in error["fields"]], (body, error)
    error_of(
        await api.post("/api/v1/triggers", headers=account.headers | JSON, content=b"{nope"),
        400,
        "invalid_json",
    )
    error_of(await api.get("/api/v1/triggers"), 401, "unauthorized")


async def test_another_accounts_trigger_is_404_in_the_api(api, account, pool):
    trigger = (
        await api.post(
            "/api/v1/triggers", headers=account.headers, json={"name": "mine", "workflow": VISIBLE}
        )
    ).json()
    other = await new_account(pool)
    for method, path in (
        ("get", ""),
        ("post", "/enable"),
        ("post", "/disable"),
        ("post", "/rotate"),
        ("delete", ""),
    ):
        response = await api.request(
            method,
            f"/api/v1/triggers/{trigger['id']}{path}",
            headers=other.headers,
            **({"json": {}} if path == "/rotate" else {}),
        )
        error_of(response, 404, "not_found")
    assert (await api.get("/api/v1/triggers", headers=other.headers)).json() == {"triggers": []}
    assert (
        await api.get(f"/api/v1/triggers/{trigger['id']}", headers=account.headers)
    ).status_code == 200


async def test_a_run_started_by_a_trigger_says_so_on_its_card_and_its_page(
    app_client, pool, settings
):
    from app.core.secrets_box import SecretBox
    from app.triggers import store

    email = await sign_up(app_client)
    async with pool.connection() as conn:
        owner = (
            await (
                await conn.execute(
                    "UPDATE users SET tier = 'enterprise' WHERE email = %s RETURNING id", (email,)
                )
            ).fetchone()
        )["id"]
        trigger, token = await store.create_trigger(
            conn,
            owner,
            SecretBox.from_settings(settings),
            name="Form service",
            workflow=VISIBLE,
            mapping=None,
            auth_mode="bearer",
        )
    delivered = await app_client.post(
        f"/hooks/t/{trigger['id']}",
        content=b'{"topic": "from a form"}',
        headers=JSON | {"Authorization": f"Bearer {token}"},
    )
    assert delivered.status_code == 202, delivered.text
    run_id = delivered.json()["run_id"]
    page = await app_client.get(f"/workflows/{run_id}")
    assert (
        "Started by trigger" in page.text
        and f'href="/triggers/{trigger["id"]}">Form service</a>' in page.text
    )
    card = await app_client.get(f"/chat/runs/{run_id}/card")
    assert (
        card.status_code == 200
        and "Started by trigger" in card.text
        and "Form service" in card.text
    )
    deliveries = await app_client.get(f"/triggers/{trigger['id']}/deliveries")
    assert f'href="/workflows/{run_id}"' in deliveries.text and ">202<" in deliveries.text
