"""The OpenAPI document and the browsable docs: only the API, the Bearer scheme, no CDN."""

from __future__ import annotations

import re


async def test_the_schema_documents_only_the_api_with_bearer_keys(api):
    response = await api.get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "Baton API"
    assert set(doc["paths"]) == {
        "/api/v1/workflows",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/runs/{run_id}/retry",
        "/api/v1/runs/{run_id}/events",
        "/api/v1/hooks/{token}",
        "/api/v1/runs/{run_id}/files/{file_id}",
        "/api/v1/triggers",
        "/api/v1/triggers/{trigger_id}",
        "/api/v1/triggers/{trigger_id}/enable",
        "/api/v1/triggers/{trigger_id}/disable",
        "/api/v1/triggers/{trigger_id}/rotate",
        "/api/v1/schedules",
        "/api/v1/schedules/{schedule_id}",
        "/api/v1/schedules/{schedule_id}/pause",
        "/api/v1/schedules/{schedule_id}/resume",
        "/api/v1/schedules/{schedule_id}/trigger",
        "/api/v1/schedules/{schedule_id}/backfill",
        "/api/v1/runs/{run_id}/rerun",
        "/api/v1/replays",
        "/api/v1/replays/{replay_id}",
        "/api/v1/replays/{replay_id}/cancel",
        "/api/v1/templates",
        "/api/v1/templates/{slug}",
        "/api/v1/templates/{slug}/versions",
        "/api/v1/templates/{slug}/export",
        "/api/v1/templates/{slug}/runs",
        "/api/v1/audit",
    }
    assert doc["components"]["securitySchemes"]["BearerKey"] | {"description": ""} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "bk_…",
        "description": "",
    }
    operations = [op for item in doc["paths"].values() for op in item.values()]
    assert (
        len(operations) == 9 + 7 + 9 + 4 + 7 + 1
    )  # runs, hooks and workflows; triggers; schedules; rerun and replays; templates; audit
    for op in operations:
        assert op["security"] == [{"BearerKey": []}]
        assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    start = doc["paths"]["/api/v1/runs"]["post"]
    assert {"201", "402", "404", "422", "429"} <= set(start["responses"])


async def test_the_docs_page_loads_its_assets_from_this_server(api):
    page = await api.get("/api/docs")
    assert page.status_code == 200 and 'data-schema-url="/api/openapi.json"' in page.text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert (
        len(assets) == 5
    )  # the UI's script, its preset, its stylesheet, the icon, and our start-up script
    for url in assets:
        assert url.startswith(("/static/vendor/swagger-ui-", "/static/js/swagger-init.js")), url
        served = await api.get(url)
        assert served.status_code == 200 and len(served.content) > 300, url
    assert "SwaggerUIBundle" in (await api.get("/static/js/swagger-init.js")).text
    assert not re.search(r"https?://", page.text)  # nothing remote at all
