"""A trigger can start a template (app/templates): each delivery runs the template's current version
with the mapped input, checked against the template's inputs; a deleted template answers 404. The
form offers the person's templates beside the workflows."""

from __future__ import annotations

import json

import httpx

from app.templates import store as templates
from app.web.signed_json import signature
from tests.integration.api.conftest import wait_for
from tests.integration.api.test_api_runs import error_of
from tests.support.web import csrf_of, sign_up

JSON = {"Content-Type": "application/json"}
NOTE = {
    "title": "Filed note",
    "inputs": [{"name": "topic", "label": "Topic", "kind": "short_text"}],
    "blocks": [
        {
            "id": "note",
            "kind": "document",
            "doc_title": "On {{ inputs.topic }}",
            "markdown": "# {{ inputs.topic }}",
        }
    ],
}


async def test_a_trigger_starts_the_templates_current_version_with_the_mapped_input(
    server, api, account, pool
):
    async with pool.connection() as conn:
        template = await templates.create_template(conn, owner_id=account.user_id, document=NOTE)
    created = await api.post(
        "/api/v1/triggers",
        headers=account.headers,
        json={
            "name": "Notes from the CMS",
            "template_id": template["id"],
            "mapping": {"topic": "/page/title"},
        },
    )
    assert created.status_code == 201, created.text
    trigger = created.json()
    assert (trigger["workflow"], trigger["template_id"]) == (None, template["id"])

    body = json.dumps({"page": {"title": "Otters"}}).encode()
    headers = JSON | {"X-Baton-Signature": signature(trigger["secret"], body)}
    async with httpx.AsyncClient(base_url=server.url) as client:
        started = await client.post(f"/hooks/t/{trigger['id']}", content=body, headers=headers)
        assert started.status_code == 202, started.text
        # Running it is the template interpreter's business (tests/integration/templates): here, what started.
        run = await wait_for(pool, started.json()["run_id"], "queued", "running", "completed")
        assert (run["template_id"], run["template_version"], run["trigger_name"]) == (
            template["id"],
            1,
            "Notes from the CMS",
        )
        assert run["input"] == {"topic": "Otters"} and run["title"] == "Filed note: Otters"

        missing = json.dumps({"page": {}}).encode()
        refused = await client.post(
            f"/hooks/t/{trigger['id']}",
            content=missing,
            headers=JSON | {"X-Baton-Signature": signature(trigger["secret"], missing)},
        )
        problems = error_of(refused, 422, "invalid_input")["fields"]
        assert [p["field"] for p in problems] == ["topic"] and "/page/title" in problems[0][
            "message"
        ]

        async with pool.connection() as conn:
            await templates.delete_template(
                conn, user_id=account.user_id, template_id=template["id"]
            )
        gone = await client.post(f"/hooks/t/{trigger['id']}", content=body, headers=headers)
        error_of(gone, 404, "workflow_not_found")


async def test_the_api_refuses_someone_elses_private_template_and_two_targets(api, account, pool):
    async with pool.connection() as conn:
        theirs = await templates.create_template(conn, owner_id=account.user_id, document=NOTE)
    from tests.integration.api.conftest import new_account

    other = await new_account(pool)
    refused = await api.post(
        "/api/v1/triggers", headers=other.headers, json={"name": "x", "template_id": theirs["id"]}
    )
    assert "template_id" in [f["field"] for f in error_of(refused, 422, "invalid_input")["fields"]]
    both = await api.post(
        "/api/v1/triggers",
        headers=account.headers,
        json={"name": "x", "template_id": theirs["id"], "workflow": "test-api-echo"},
    )
    error_of(both, 422, "invalid_input")
    neither = await api.post("/api/v1/triggers", headers=account.headers, json={"name": "x"})
    error_of(neither, 422, "invalid_input")


async def test_the_form_offers_the_persons_templates_and_maps_their_inputs(app_client, pool):
    email = await sign_up(app_client)
    async with pool.connection() as conn:
        owner = (
            await (await conn.execute("SELECT id FROM users WHERE email = %s", (email,))).fetchone()
        )["id"]
        template = await templates.create_template(conn, owner_id=owner, document=NOTE)
    target = f"template:{template['id']}"
    form = await app_client.get("/triggers/new")
    assert '<optgroup label="Your templates">' in form.text and f'value="{target}"' in form.text
    mapping = await app_client.get(
        "/triggers/mapping", params={"target": target}, headers={"HX-Request": "true"}
    )
    assert 'name="map.topic"' in mapping.text and "Filed note" in mapping.text
    created = await app_client.post(
        "/triggers",
        data={
            "_csrf_token": csrf_of(form.text),
            "name": "Template trigger",
            "target": target,
            "mapped_for": target,
            "map.topic": "/subject",
            "auth_mode": "hmac",
            "rate_per_minute": "10",
        },
    )
    assert created.status_code == 200, created.text
    assert (
        "subject" in created.text and "Example topic" in created.text
    )  # the example body follows the mapping
    listed = await app_client.get("/triggers")
    assert "Filed note" in listed.text and "(template)" in listed.text
