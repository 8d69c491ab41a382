"""Hostile bodies on every JSON-taking route (the API's two, the webhooks): each is refused with
the typed error body and a status the OpenAPI document lists — 400 `invalid_json`, 413, 415 or
422 `invalid_input` — never a 500; valid JSON is accepted whatever its keys."""

from __future__ import annotations

import json

import pytest

from tests.integration.api.conftest import start, wait_for, waiting_hook
from tests.integration.api.test_api_runs import error_of
from tests.integration.api.workflows import VISIBLE, WEBHOOK

JSON = "application/json"
DEEP_INPUT = (
    b'{"workflow": "'
    + VISIBLE.encode()
    + b'", "input": {"topic": "x", "n": '
    + b"[" * 40
    + b"]" * 40
    + b"}}"
)

# (what, body, content type or None for no header, status, code)
MALFORMED = [
    ("invalid UTF-8", b'{"workflow": "\xff\xfe"}', JSON, 400, "invalid_json"),
    ("invalid UTF-8 in a key", b'{"\xc3\x28": 1}', JSON, 400, "invalid_json"),
    ("100,000 open brackets", b"[" * 100_000, JSON, 400, "invalid_json"),
    ("100,000 nested arrays", b"[" * 100_000 + b"]" * 100_000, JSON, 400, "invalid_json"),
    ("nesting over the depth limit", DEEP_INPUT, JSON, 400, "invalid_json"),
    (
        "a float out of range",
        b'{"workflow": "x", "input": {"n": 1e999}}',
        JSON,
        400,
        "invalid_json",
    ),
    (
        "an integer of 5,000 digits",
        b'{"workflow": "x", "chat_id": ' + b"9" * 5000 + b"}",
        JSON,
        400,
        "invalid_json",
    ),
    ("NaN", b'{"workflow": "x", "input": {"n": NaN}}', JSON, 400, "invalid_json"),
    ("Infinity", b'{"workflow": "x", "input": {"n": Infinity}}', JSON, 400, "invalid_json"),
    ("-Infinity", b'{"workflow": "x", "input": {"n": -Infinity}}', JSON, 400, "invalid_json"),
    ("a duplicate key", b'{"workflow": "a", "workflow": "b"}', JSON, 400, "invalid_json"),
    ("an empty body", b"", JSON, 400, "invalid_json"),
    ("only whitespace", b" \n\t ", JSON, 400, "invalid_json"),
    ("data after the value", b'{"workflow": "x"} {}', JSON, 400, "invalid_json"),
    ("single quotes", b"{'workflow': 'x'}", JSON, 400, "invalid_json"),
    ("a comment", b'{"workflow": "x" /* hi */}', JSON, 400, "invalid_json"),
    ("a byte order mark", b'\xef\xbb\xbf{"workflow": "x"}', JSON, 400, "invalid_json"),
    ("a truncated body", b'{"workflow": "x", "inp', JSON, 400, "invalid_json"),
]
# Valid JSON of the wrong shape or content: the schema's typed answer.
INVALID = [
    ("an empty key", b'{"": 1, "workflow": "x"}', JSON, 422, "invalid_input"),
    ("null", b"null", JSON, 422, "invalid_input"),
    ("an array", b"[]", JSON, 422, "invalid_input"),
    ("a string", b'"workflow"', JSON, 422, "invalid_input"),
    (
        "an integer over 64 bits",
        b'{"workflow": "x", "chat_id": 99999999999999999999}',
        JSON,
        422,
        "invalid_input",
    ),
    ("a lone surrogate", b'{"workflow": "\\ud800"}', JSON, 422, "invalid_input"),
    ("a NUL character", b'{"workflow": "a\\u0000"}', JSON, 422, "invalid_input"),
]
WRONG_TYPE = [
    ("text/plain", b'{"workflow": "x"}', "text/plain", 415, "unsupported_media_type"),
    ("a form", b"workflow=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (
        "multipart",
        b"--b\r\n\r\n--b--",
        "multipart/form-data; boundary=b",
        415,
        "unsupported_media_type",
    ),
    ("XML", b"<run/>", "application/xml", 415, "unsupported_media_type"),
]
OVERSIZED = [
    (
        "300 KiB",
        json.dumps({"workflow": "x", "input": {"t": "x" * 300 * 1024}}).encode(),
        JSON,
        413,
        "body_too_large",
    )
]
TABLE = MALFORMED + INVALID + WRONG_TYPE + OVERSIZED


def _headers(account, content_type: str | None) -> dict:
    return account.headers | ({"Content-Type": content_type} if content_type else {})


@pytest.fixture
async def documented(api):
    doc = (await api.get("/api/openapi.json")).json()
    return lambda path, method: set(doc["paths"][path][method]["responses"])


async def _api_hook_token(pool, account) -> str:
    run = await start(pool, account, WEBHOOK, gate=True)
    return (await waiting_hook(pool, run.id, "gate"))["token"]


async def test_hostile_bodies_to_start_a_run_get_typed_errors(api, account, documented):
    for what, body, content_type, status, code in TABLE:
        response = await api.post(
            "/api/v1/runs", content=body, headers=_headers(account, content_type)
        )
        assert response.status_code == status, (what, response.text)
        error_of(response, status, code)
        assert str(status) in documented("/api/v1/runs", "post"), what


async def test_hostile_bodies_to_answer_a_hook_get_typed_errors(
    api, account, pool, worker, documented
):
    url = f"/api/v1/hooks/{await _api_hook_token(pool, account)}"
    for what, body, content_type, status, code in TABLE:
        response = await api.post(url, content=body, headers=_headers(account, content_type))
        assert response.status_code == status, (what, response.text)
        error_of(response, status, code)
        assert str(status) in documented("/api/v1/hooks/{token}", "post"), what
    answered = await api.post(
        url,
        content=b'{"action": "approve", "data": {"": "empty keys are fine"}}',
        headers=_headers(account, JSON),
    )
    assert answered.status_code == 200, answered.text


async def test_valid_json_is_accepted_whatever_its_keys_and_json_media_type(api, account):
    bodies = [
        ({"workflow": VISIBLE, "input": {"topic": "keys", "": 1, "é\u2028": {"": []}}}, JSON),
        ({"workflow": VISIBLE, "input": {"topic": "no content type"}}, None),
        ({"workflow": VISIBLE, "input": {"topic": "charset"}}, "application/json; charset=utf-8"),
        ({"workflow": VISIBLE, "input": {"topic": "vendor type"}}, "application/vnd.baton+json"),
    ]
    for body, content_type in bodies:
        response = await api.post(
            "/api/v1/runs",
            content=json.dumps(body).encode(),
            headers=_headers(account, content_type),
        )
        assert response.status_code == 201, (body, response.text)
    empty_key = await api.post(
        "/api/v1/runs", content=b'{"": 1, "workflow": "x"}', headers=_headers(account, JSON)
    )
    assert error_of(empty_key, 422, "invalid_input")["fields"][0]["field"] == ""


async def test_hostile_bodies_to_a_webhook_are_refused_and_lose_nothing(api, account, pool, worker):
    run = await start(pool, account, WEBHOOK)
    hook = await waiting_hook(pool, run.id)
    url = f"/hooks/{hook['token']}"
    not_storable = [
        row
        for row in INVALID
        if row[0] in ("null", "an array", "a string", "a lone surrogate", "a NUL character")
    ]
    over_a_mib = [("1.1 MiB", b'{"t": "' + b"x" * 1100 * 1024 + b'"}', JSON, 413, "body_too_large")]
    for what, body, content_type, status, code in MALFORMED + not_storable + over_a_mib:
        # No schema here: valid JSON that is not a storable object is as unusable as malformed JSON.
        expected = (400, "invalid_json") if status == 422 else (status, code)
        response = await api.post(url, content=body, headers={"Content-Type": content_type})
        assert response.status_code == expected[0], (what, response.text)
        error_of(response, *expected)
    async with pool.connection() as conn:
        state = await (
            await conn.execute("SELECT status FROM hooks WHERE id = %s", (hook["id"],))
        ).fetchone()
    assert state["status"] == "waiting"
    delivered = await api.post(
        url,
        content=b'{"": "empty key", "n": 99999999999999999999}',
        headers={"Content-Type": "text/plain"},
    )
    assert delivered.status_code == 200, delivered.text


async def test_a_malformed_or_long_last_event_id_is_ignored_as_documented(
    api, account, pool, worker, documented
):
    run = await start(pool, account, VISIBLE, topic="events")
    await wait_for(pool, run.id, "completed")
    url = f"/api/v1/runs/{run.id}/events"
    whole = (await api.get(url, headers=account.headers)).text
    assert whole.count("event: status") >= 2
    for bad in ("1" * 41, "9" * 5000, "abc", "-5", "1.5", str(2**63), "٣".encode()):
        response = await api.get(url, headers=account.headers | {"Last-Event-ID": bad})
        assert response.status_code == 200 and response.text == whole, bad  # from the first event
    assert "422" not in documented("/api/v1/runs/{run_id}/events", "get")
    described = (await api.get("/api/openapi.json")).json()["paths"][
        "/api/v1/runs/{run_id}/events"
    ]["get"]
    header = next(p for p in described["parameters"] if p["name"] == "Last-Event-ID")
    assert "ignored" in header["description"] and "maxLength" not in header.get("schema", {})
