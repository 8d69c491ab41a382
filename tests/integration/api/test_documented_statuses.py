"""The OpenAPI document lists every status each API route can answer, each error with the one error
body; and the statuses every route shares (a database that cannot be reached: 503) are real."""

from __future__ import annotations

import dataclasses
import re

from psycopg_pool import AsyncConnectionPool

from tests.integration.api.test_api_runs import error_of
from tests.integration.teams.test_route_authorization import ROUTES

EVERY_ROUTE = {
    "400",
    "401",
    "429",
    "500",
    "503",
}  # malformed request, the key, the rate limit, our failures
# What each operation answers on success, and the errors of its own (from reading its handler; a 403
# wherever a viewer's key is refused, which the route walk proves, see the test below):
OPERATIONS = {
    ("/api/v1/workflows", "get"): ({"200"}, set()),
    ("/api/v1/runs", "post"): ({"200", "201"}, {"402", "403", "404", "413", "415", "422"}),
    ("/api/v1/runs", "get"): ({"200"}, {"422"}),
    ("/api/v1/runs/{run_id}", "get"): ({"200"}, {"404"}),
    ("/api/v1/runs/{run_id}/cancel", "post"): ({"200"}, {"403", "404", "409"}),
    ("/api/v1/runs/{run_id}/retry", "post"): ({"200"}, {"403", "404", "409"}),
    ("/api/v1/runs/{run_id}/events", "get"): ({"200"}, {"404"}),
    ("/api/v1/runs/{run_id}/files/{file_id}", "get"): ({"200"}, {"404"}),
    ("/api/v1/hooks/{token}", "post"): ({"200"}, {"403", "404", "409", "413", "415", "422"}),
    ("/api/v1/triggers", "get"): ({"200"}, set()),
    ("/api/v1/triggers", "post"): ({"201"}, {"403", "409", "413", "415", "422"}),
    ("/api/v1/triggers/{trigger_id}", "get"): ({"200"}, {"404"}),
    ("/api/v1/triggers/{trigger_id}", "delete"): ({"204"}, {"403", "404"}),
    ("/api/v1/triggers/{trigger_id}/enable", "post"): ({"200"}, {"403", "404"}),
    ("/api/v1/triggers/{trigger_id}/disable", "post"): ({"200"}, {"403", "404"}),
    ("/api/v1/triggers/{trigger_id}/rotate", "post"): (
        {"200"},
        {"403", "404", "413", "415", "422"},
    ),
    ("/api/v1/schedules", "post"): ({"201"}, {"403", "413", "415", "422"}),
    ("/api/v1/schedules", "get"): ({"200"}, set()),
    ("/api/v1/schedules/{schedule_id}", "get"): ({"200"}, {"404"}),
    ("/api/v1/schedules/{schedule_id}", "patch"): ({"200"}, {"403", "404", "413", "415", "422"}),
    ("/api/v1/schedules/{schedule_id}", "delete"): ({"204"}, {"403", "404"}),
    ("/api/v1/schedules/{schedule_id}/pause", "post"): (
        {"200"},
        {"403", "404", "413", "415", "422"},
    ),
    ("/api/v1/schedules/{schedule_id}/resume", "post"): ({"200"}, {"403", "404"}),
    ("/api/v1/schedules/{schedule_id}/trigger", "post"): ({"201"}, {"402", "403", "404", "409"}),
    ("/api/v1/schedules/{schedule_id}/backfill", "post"): (
        {"200"},
        {"403", "404", "413", "415", "422"},
    ),
    ("/api/v1/runs/{run_id}/rerun", "post"): (
        {"201"},
        {"402", "403", "404", "409", "413", "415", "422"},
    ),
    ("/api/v1/replays", "post"): ({"200", "201"}, {"403", "409", "413", "415", "422"}),
    ("/api/v1/replays/{replay_id}", "get"): ({"200"}, {"404"}),
    ("/api/v1/replays/{replay_id}/cancel", "post"): ({"200"}, {"404", "409"}),
    ("/api/v1/templates", "get"): ({"200"}, set()),
    ("/api/v1/templates", "post"): ({"201"}, {"403", "413", "415", "422"}),
    ("/api/v1/templates/{slug}", "get"): ({"200"}, {"404"}),
    ("/api/v1/templates/{slug}/versions", "get"): ({"200"}, {"404"}),
    ("/api/v1/templates/{slug}/versions", "post"): ({"201"}, {"403", "404", "413", "415", "422"}),
    ("/api/v1/templates/{slug}/export", "get"): ({"200"}, {"404"}),
    ("/api/v1/audit", "get"): ({"200"}, {"403", "422"}),
    ("/api/v1/templates/{slug}/runs", "post"): (
        {"200", "201"},
        {"402", "403", "404", "413", "415", "422"},
    ),
}
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


async def test_every_operation_documents_every_status_it_can_answer(api):
    doc = (await api.get("/api/openapi.json")).json()
    walked = {
        (path, method): op for path, item in doc["paths"].items() for method, op in item.items()
    }
    assert set(walked) == set(OPERATIONS), "a route was added or removed: say here what it answers"
    for (path, method), op in walked.items():
        success, errors = OPERATIONS[(path, method)]
        responses = op["responses"]
        assert set(responses) >= success | errors | EVERY_ROUTE, (path, method, sorted(responses))
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == ERROR_BODY, (
                    path,
                    method,
                    status,
                )
                assert response["description"], (path, method, status)
        # The success answer documented once: 201 and 200 both, for the idempotent start only.
        assert {s for s in responses if int(s) < 400} <= success | {"201"}, (path, method)
    assert doc["components"]["schemas"]["ErrorBody"]["properties"]["error"]


def test_403_is_documented_exactly_where_a_viewers_key_is_refused():
    """The route walk (tests/integration/teams/test_route_authorization.py) asks every API route
    with a team viewer's key: the routes it expects a 403 from are the ones listed with a 403 here."""
    refused = {
        (re.sub(r":\w+\}", "}", path), method.lower())
        for (method, path), case in ROUTES.items()
        if path.startswith("/api/v1/") and case.viewer == 403
    }
    documented = {op for op, (_, errors) in OPERATIONS.items() if "403" in errors}
    assert documented == refused


async def test_a_database_that_cannot_be_reached_is_a_503_with_retry_after(api, account):
    services = api.app.state.services
    unreachable = AsyncConnectionPool(
        "postgresql://baton@127.0.0.1:9/nothing",
        open=False,
        timeout=1.0,
        min_size=1,
        max_size=1,
        reconnect_timeout=2.0,
    )
    await unreachable.open(wait=False)
    api.app.state.services = dataclasses.replace(services, pool=unreachable)
    try:
        response = await api.get("/api/v1/workflows", headers=account.headers)
        error_of(response, 503, "unavailable")
        assert int(response.headers["retry-after"]) > 0
    finally:
        api.app.state.services = services
        await unreachable.close()
    assert (await api.get("/api/v1/workflows", headers=account.headers)).status_code == 200
