"""Contract tests of /api/v1: the catalog, starting, listing, reading, cancelling and retrying runs,
and the error body of every failure (`{"error": {"code", "message"}}`)."""

from __future__ import annotations

import json

from app.engine.commands import get_run
from app.web.api.schemas import run_view
from tests.integration.api.conftest import new_account, start, wait_for, waiting_hook
from tests.integration.api.workflows import FAILS_ONCE, VISIBLE, WEBHOOK


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


async def test_the_catalog_lists_visible_workflows_with_their_input_schema(api, account):
    response = await api.get("/api/v1/workflows", headers=account.headers)
    assert response.status_code == 200
    workflows = {w["name"]: w for w in response.json()["workflows"]}
    echo = workflows[VISIBLE]
    assert echo["title"] == "API test: echo" and echo["version"] == 1 and echo["description"]
    assert echo["input_schema"]["properties"]["topic"]["type"] == "string"
    assert echo["input_schema"]["required"] == ["topic"]
    assert WEBHOOK not in workflows and "selftest" not in workflows  # hidden ones stay out


async def test_starting_a_run_answers_201_with_the_runs_show_json_shape(api, account, pool):
    response = await api.post(
        "/api/v1/runs",
        headers=account.headers,
        json={"workflow": VISIBLE, "input": {"topic": "baton"}},
    )
    assert response.status_code == 201, response.text
    run = response.json()
    assert (
        run["workflow"] == VISIBLE
        and run["status"] == "queued"
        and run["input"] == {"topic": "baton", "times": 1}
    )
    async with pool.connection() as conn:
        expected = run_view(await get_run(conn, run["id"]))
    assert set(run) == set(expected) | {
        "files"
    }  # the CLI's `runs show --json` keys, steps and hooks included
    assert run["steps"] == [] and run["hooks"] == [] and run["files"] == []


async def test_the_same_idempotency_key_returns_the_first_run(api, account):
    body = {"workflow": VISIBLE, "input": {"topic": "once"}, "idempotency_key": "order-42"}
    first = await api.post("/api/v1/runs", headers=account.headers, json=body)
    again = await api.post("/api/v1/runs", headers=account.headers, json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


async def test_invalid_input_is_a_422_naming_the_field(api, account):
    bad = await api.post(
        "/api/v1/runs",
        headers=account.headers,
        json={"workflow": VISIBLE, "input": {"topic": "", "times": 9}},
    )
    error = error_of(bad, 422, "invalid_input")
    assert {f["field"] for f in error["fields"]} == {"input.topic", "input.times"}
    assert error["message"].startswith("input.topic")

    missing = await api.post("/api/v1/runs", headers=account.headers, json={"input": {}})
    assert error_of(missing, 422, "invalid_input")["fields"][0]["field"] == "workflow"
    extra = await api.post(
        "/api/v1/runs", headers=account.headers, json={"workflow": VISIBLE, "inptu": {}}
    )
    assert "inptu" in error_of(extra, 422, "invalid_input")["message"]
    wrong_type = await api.post(
        "/api/v1/runs", headers=account.headers, json={"workflow": VISIBLE, "input": []}
    )
    assert error_of(wrong_type, 422, "invalid_input")["fields"][0]["field"] == "input"
    nul = await api.post(
        "/api/v1/runs",
        headers=account.headers,
        json={"workflow": VISIBLE, "input": {"topic": "a\u0000b"}},
    )
    assert error_of(nul, 422, "invalid_input")["fields"][0]["field"] == "input"


async def test_malformed_and_oversized_bodies(api, account):
    headers = account.headers | {"Content-Type": "application/json"}
    error_of(
        await api.post("/api/v1/runs", headers=headers, content=b"{not json"), 400, "invalid_json"
    )
    huge = json.dumps({"workflow": VISIBLE, "input": {"topic": "x" * (300 * 1024)}})
    error_of(await api.post("/api/v1/runs", headers=headers, content=huge), 413, "body_too_large")


async def test_unknown_workflow_is_404_and_an_exhausted_quota_402(api, account, pool):
    error_of(
        await api.post("/api/v1/runs", headers=account.headers, json={"workflow": "no-such-flow"}),
        404,
        "workflow_not_found",
    )
    error_of(
        await api.post("/api/v1/runs", headers=account.headers, json={"workflow": "selftest"}),
        404,
        "workflow_not_found",
    )  # hidden (operator) workflows are not in the API either
    free = await new_account(pool, tier="free")  # 0 runs a month
    error_of(
        await api.post(
            "/api/v1/runs",
            headers=free.headers,
            json={"workflow": VISIBLE, "input": {"topic": "x"}},
        ),
        402,
        "quota_exceeded",
    )


async def test_a_chat_of_someone_else_cannot_be_named(api, account, pool):
    other = await new_account(pool)
    async with pool.connection() as conn:
        chat = await (
            await conn.execute(
                "INSERT INTO conversations (user_id, title) VALUES (%s, 'theirs') RETURNING id",
                (other.user_id,),
            )
        ).fetchone()
    response = await api.post(
        "/api/v1/runs",
        headers=account.headers,
        json={"workflow": VISIBLE, "input": {"topic": "x"}, "chat_id": chat["id"]},
    )
    assert error_of(response, 422, "invalid_input")["fields"][0]["field"] == "chat_id"
    mine = await api.post(
        "/api/v1/runs",
        headers=other.headers,
        json={"workflow": VISIBLE, "input": {"topic": "x"}, "chat_id": chat["id"]},
    )
    assert mine.status_code == 201 and mine.json()["chat_id"] == chat["id"]


async def test_listing_pages_with_a_cursor_and_filters(api, account, pool, worker):
    echoes = [await start(pool, account, VISIBLE, topic=f"t{i}") for i in range(5)]
    waiting = await start(pool, account, WEBHOOK)
    for run in echoes:
        await wait_for(pool, run.id, "completed")
    await wait_for(pool, waiting.id, "waiting")
    seen, cursor = [], None
    while True:
        params = {"workflow": VISIBLE, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/api/v1/runs", headers=account.headers, params=params)).json()
        assert len(page["runs"]) <= 2
        seen += [r["id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    everything = (await api.get("/api/v1/runs", headers=account.headers)).json()
    assert len(everything["runs"]) == 6 and everything["next_cursor"] is None
    assert [r["id"] for r in everything["runs"] if r["workflow"] == VISIBLE] == seen  # newest first
    completed = (
        await api.get("/api/v1/runs", headers=account.headers, params={"status": "completed"})
    ).json()
    assert [r["id"] for r in completed["runs"]] == seen
    only_waiting = (
        await api.get("/api/v1/runs", headers=account.headers, params={"status": "waiting"})
    ).json()
    assert [r["id"] for r in only_waiting["runs"]] == [str(waiting.id)]
    assert (
        await api.get("/api/v1/runs", headers=account.headers, params={"status": "failed"})
    ).json()["runs"] == []

    error_of(
        await api.get("/api/v1/runs", headers=account.headers, params={"status": "nope"}),
        422,
        "invalid_input",
    )
    error_of(
        await api.get("/api/v1/runs", headers=account.headers, params={"cursor": "garbage"}),
        422,
        "invalid_input",
    )
    error_of(
        await api.get("/api/v1/runs", headers=account.headers, params={"limit": 0}),
        422,
        "invalid_input",
    )


async def test_runs_of_other_users_do_not_exist_for_you(api, account, pool):
    other = await new_account(pool)
    theirs = await start(pool, other, VISIBLE, topic="private")
    assert (await api.get("/api/v1/runs", headers=account.headers)).json()["runs"] == []
    for method, path in (("GET", ""), ("POST", "/cancel"), ("POST", "/retry"), ("GET", "/events")):
        response = await api.request(
            method, f"/api/v1/runs/{theirs.id}{path}", headers=account.headers
        )
        error_of(response, 404, "not_found")
    error_of(await api.get("/api/v1/runs/not-a-uuid", headers=account.headers), 404, "not_found")
    mine = await api.get(f"/api/v1/runs/{theirs.id}", headers=other.headers)
    assert mine.status_code == 200 and mine.json()["id"] == str(theirs.id)


async def test_a_run_read_back_has_its_steps_and_hooks_with_tokens(api, account, pool, worker):
    run = await start(pool, account, WEBHOOK)
    hook = await waiting_hook(pool, run.id)
    body = (await api.get(f"/api/v1/runs/{run.id}", headers=account.headers)).json()
    assert body["status"] == "waiting" and body["waiting_for"] == "callback"
    assert [s["name"] for s in body["steps"]] == ["prepare", "callback"]
    [shown] = body["hooks"]
    assert (
        shown["token"] == hook["token"]
        and shown["kind"] == "webhook"
        and shown["actions"] == ["deliver"]
    )


async def test_cancel_stops_a_waiting_run_once(api, account, pool, worker):
    run = await start(pool, account, WEBHOOK)
    await waiting_hook(pool, run.id)
    cancelled = await api.post(f"/api/v1/runs/{run.id}/cancel", headers=account.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    error_of(
        await api.post(f"/api/v1/runs/{run.id}/cancel", headers=account.headers),
        409,
        "invalid_state",
    )


async def test_retry_runs_a_failed_run_again(api, account, pool, worker):
    run = await start(pool, account, FAILS_ONCE)
    await wait_for(pool, run.id, "failed")
    retried = await api.post(f"/api/v1/runs/{run.id}/retry", headers=account.headers)
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
    done = await wait_for(pool, run.id, "completed")
    assert done["output"] == "second time lucky"
    error_of(
        await api.post(f"/api/v1/runs/{run.id}/retry", headers=account.headers),
        409,
        "invalid_state",
    )


async def test_unknown_routes_and_methods_answer_json_errors(api, account):
    error_of(await api.get("/api/v1/nothing-here", headers=account.headers), 404, "not_found")
    error_of(await api.delete("/api/v1/runs", headers=account.headers), 405, "method_not_allowed")
