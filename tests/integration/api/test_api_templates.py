"""The templates API: create (= import), read, save versions, history, export, run; the document's JSON
Schema in the OpenAPI document; per-path problems for a bad document; 404 for another user's template."""

from __future__ import annotations

import copy

from tests.integration.api.conftest import new_account, waiting_hook
from tests.integration.api.test_api_runs import error_of
from tests.integration.templates.test_ask_person_form import FORM
from tests.integration.templates.test_template_runs import REPORT
from tests.support.engine import wait_status


async def test_create_read_version_export_and_run(api, pool, account, worker):
    h = account.headers
    created = await api.post(
        "/api/v1/templates", json={"document": REPORT, "slug": "api-report"}, headers=h
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["slug"] == "api-report" and body["version"] == 1 and body["mine"] is True
    assert body["document"]["blocks"][1]["on_changes"] == "draft"

    edited = copy.deepcopy(REPORT)
    edited["title"] = "Reviewed report, v2"
    saved = await api.post(
        "/api/v1/templates/api-report/versions", json={"document": edited}, headers=h
    )
    assert (
        saved.status_code == 201
        and saved.json()["version"] == 2
        and saved.json()["title"] == "Reviewed report, v2"
    )
    history = (await api.get("/api/v1/templates/api-report/versions", headers=h)).json()["versions"]
    assert [v["version"] for v in history] == [2, 1]

    exported = (await api.get("/api/v1/templates/api-report/export", headers=h)).json()
    assert exported == {"format_version": 1, **edited}
    listed = (await api.get("/api/v1/templates", headers=h)).json()
    assert [t["slug"] for t in listed["mine"]] == ["api-report"]

    started = await api.post(
        "/api/v1/templates/api-report/runs", json={"input": {"topic": "owls"}}, headers=h
    )
    assert started.status_code == 201, started.text
    run = started.json()
    assert (
        run["workflow"] == "template"
        and run["template"] == "api-report"
        and run["template_version"] == 2
    )
    await wait_status(pool, run["id"], "waiting")
    shown = (await api.get(f"/api/v1/runs/{run['id']}", headers=h)).json()
    # The journal's `load template` entry is bookkeeping: the API lists the blocks' steps only.
    assert shown["template"] == "api-report" and shown["steps"][0]["name"] == "draft"
    assert "load template" not in [s["name"] for s in shown["steps"]]


async def test_bad_document_and_bad_input_are_422_with_every_problem(api, account):
    h = account.headers
    bad = copy.deepcopy(REPORT)
    bad["blocks"][0]["prompt"] = "{{ inputs.nope }}"
    del bad["blocks"][1]["max_rounds"]
    refused = await api.post("/api/v1/templates", json={"document": bad}, headers=h)
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == [
        {"field": "blocks.0.prompt", "message": "Unknown input “inputs.nope”."},
        {
            "field": "blocks.1.max_rounds",
            "message": "A review that jumps back needs a limit on rounds (it could loop forever).",
        },
    ]
    assert (await api.get("/api/v1/templates", headers=h)).json()["mine"] == []
    await api.post("/api/v1/templates", json={"document": REPORT, "slug": "r"}, headers=h)
    wrong = await api.post(
        "/api/v1/templates/r/runs", json={"input": {"topic": 3, "x": 1}}, headers=h
    )
    assert wrong.status_code == 422
    assert {f["field"] for f in wrong.json()["error"]["fields"]} == {"input.topic", "input.x"}


async def test_another_users_private_template_is_404_everywhere(api, pool, account):
    await api.post(
        "/api/v1/templates", json={"document": REPORT, "slug": "mine-only"}, headers=account.headers
    )
    other = (await new_account(pool)).headers
    for method, path, body in (
        ("get", "/api/v1/templates/mine-only", None),
        ("get", "/api/v1/templates/mine-only/versions", None),
        ("get", "/api/v1/templates/mine-only/export", None),
        ("post", "/api/v1/templates/mine-only/versions", {"document": REPORT}),
        ("post", "/api/v1/templates/mine-only/runs", {"input": {"topic": "x"}}),
    ):
        response = await getattr(api, method)(
            path, headers=other, **({"json": body} if body else {})
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"


async def test_the_template_json_schema_is_in_the_api_docs(api):
    doc = (await api.get("/api/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    template = schemas["Template"]
    assert {"title", "inputs", "blocks"} <= set(template["properties"])
    assert {"AskModel", "Review", "AskPerson", "Wait", "ForEach", "If", "Document", "Send"} <= set(
        schemas
    )


async def test_an_ask_person_answer_through_the_api_is_checked_like_the_form(
    api, pool, account, worker
):
    h = account.headers
    await api.post("/api/v1/templates", json={"document": FORM, "slug": "trip"}, headers=h)
    run = (await api.post("/api/v1/templates/trip/runs", json={"input": {}}, headers=h)).json()
    hook = await waiting_hook(pool, run["id"])
    url = f"/api/v1/hooks/{hook['token']}"
    wrong = {
        "city": "Lyon",
        "nights": "a few",
        "by_train": "perhaps",
        "class": "third",
        "leave": "2026-05-04T09:00:00",
        "bags": "one bag",
    }
    refused = error_of(
        await api.post(url, json={"action": "submit", "data": wrong}, headers=h),
        422,
        "invalid_input",
    )
    problems = {f["field"]: f["message"] for f in refused["fields"]}
    assert set(problems) == {
        "data.nights",
        "data.by_train",
        "data.class",
        "data.leave",
        "data.bags",
    }
    assert "number" in problems["data.nights"] and "timezone" in problems["data.leave"]
    missing = error_of(
        await api.post(url, json={"action": "submit", "data": {"city": "Lyon"}}, headers=h),
        422,
        "invalid_input",
    )
    assert {"field": "data.nights", "message": "Fill this in."} in missing["fields"]
    assert (await waiting_hook(pool, run["id"]))["status"] == "waiting"  # nothing decided

    right = {
        "city": "Lyon",
        "nights": 3,
        "by_train": True,
        "class": "second",
        "leave": "2026-05-04T09:00:00+02:00",
        "bags": ["rucksack"],
        "note": "kept as sent",
    }
    decided = await api.post(url, json={"action": "submit", "data": right}, headers=h)
    assert decided.status_code == 200, decided.text
    done = await wait_status(pool, run["id"], "completed", timeout=20)
    answer = done["output"]["outputs"]["ask"]
    assert answer["nights"] == 3 and answer["by_train"] is True and answer["bags"] == ["rucksack"]
    assert done["output"]["document"] == "Lyon for 3.0"


async def test_export_leaves_out_webhook_addresses_and_the_import_asks_for_them(api, account):
    h = account.headers
    notify = {
        "id": "notify",
        "kind": "send",
        "channel": "webhook",
        "url": "https://hooks.example.com/T0/B1/xoxb-secret-token",
        "secret": "s3cret",
        "body": "{{ draft }}",
    }
    original = {**REPORT, "blocks": [*REPORT["blocks"], notify]}
    created = await api.post(
        "/api/v1/templates", json={"document": original, "slug": "hooked"}, headers=h
    )
    assert created.status_code == 201, created.text
    exported = (await api.get("/api/v1/templates/hooked/export", headers=h)).json()
    assert "xoxb" not in str(exported) and "s3cret" not in str(exported)
    assert exported["blocks"][4] == {
        "id": "notify",
        "kind": "send",
        "channel": "webhook",
        "body": "{{ draft }}",
    }

    refused = error_of(
        await api.post("/api/v1/templates", json={"document": exported}, headers=h),
        422,
        "invalid_input",
    )
    assert refused["fields"] == [
        {"field": "blocks.4.url", "message": "Give the http(s) URL to send the webhook to."}
    ]
    exported["blocks"][4]["url"] = "https://hooks.example.com/mine"
    imported = await api.post(
        "/api/v1/templates", json={"document": exported, "slug": "hooked-again"}, headers=h
    )
    assert imported.status_code == 201, imported.text
    again = (await api.get("/api/v1/templates/hooked-again/export", headers=h)).json()
    del exported["blocks"][4]["url"]
    assert again == exported  # the round trip keeps everything but the private values
