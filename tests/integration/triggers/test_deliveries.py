"""`POST /hooks/t/<id>` over real HTTP: a signed (or bearer) delivery starts one run of the
target with the mapped input; a wrong credential, a bad body, a replayed Idempotency-Key, a
disabled or deleted trigger and a flood each start nothing, and each answer is the documented one."""

from __future__ import annotations

import json

import httpx

from app.triggers import store
from app.web.signed_json import signature
from tests.integration.api.conftest import wait_for
from tests.integration.triggers.conftest import deliveries_of, runs_of
from tests.support.engine import make_user

JSON = {"Content-Type": "application/json"}


def signed(secret: str, body: bytes, **extra: str) -> dict[str, str]:
    return JSON | {"X-Baton-Signature": signature(secret, body)} | extra


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text
    return response.json()["error"]


async def test_a_signed_delivery_starts_a_run_of_the_target_with_the_mapped_input(
    server, pool, worker, trigger
):
    owner = await make_user(pool)
    row, secret = await trigger(owner, mapping={"topic": "/post/title", "times": "/count"})
    body = json.dumps({"post": {"title": "Spring launch", "id": 9}, "count": 2}).encode()
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            f"/hooks/t/{row['id']}", content=body, headers=signed(secret, body)
        )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["replayed"] is False and answer["trigger"] == "CMS posts"
    run = await wait_for(pool, answer["run_id"], "completed")
    assert run["input"] == {"topic": "Spring launch", "times": 2}
    assert run["output"] == {"echo": "Spring launch Spring launch"}
    assert (run["trigger_id"], run["trigger_name"]) == (row["id"], "CMS posts")
    [delivery] = await deliveries_of(pool, row["id"])
    assert (delivery["status"], str(delivery["run_id"])) == (202, answer["run_id"])


async def test_a_missing_or_wrong_signature_is_401_and_starts_no_run(server, pool, trigger):
    owner = await make_user(pool)
    row, secret = await trigger(owner)
    url, body = f"/hooks/t/{row['id']}", b'{"topic": "nope"}'
    async with httpx.AsyncClient(base_url=server.url) as client:
        error_of(await client.post(url, content=body, headers=JSON), 401, "invalid_signature")
        error_of(
            await client.post(url, content=body, headers=signed("whsec_not-the-secret", body)),
            401,
            "invalid_signature",
        )
        tampered = await client.post(
            url, content=b'{"topic": "other"}', headers=signed(secret, body)
        )
        error_of(tampered, 401, "invalid_signature")
        # A bearer token is not a signature.
        error_of(
            await client.post(
                url, content=body, headers=JSON | {"Authorization": f"Bearer {secret}"}
            ),
            401,
            "invalid_signature",
        )
    assert await runs_of(pool, owner) == []
    assert [d["status"] for d in await deliveries_of(pool, row["id"])] == [401] * 4


async def test_a_bearer_trigger_takes_its_token_and_refuses_others(server, pool, worker, trigger):
    owner = await make_user(pool)
    row, token = await trigger(owner, auth_mode="bearer")
    url, body = f"/hooks/t/{row['id']}", b'{"topic": "bearer"}'
    async with httpx.AsyncClient(base_url=server.url) as client:
        for wrong in (
            {},
            {"Authorization": "Bearer btt_wrong"},
            {"Authorization": token},
            {"X-Baton-Signature": signature(token, body)},
        ):
            response = await client.post(url, content=body, headers=JSON | wrong)
            error_of(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
        assert await runs_of(pool, owner) == []
        ok = await client.post(
            url, content=body, headers=JSON | {"Authorization": f"Bearer {token}"}
        )
    assert ok.status_code == 202, ok.text
    assert (await wait_for(pool, ok.json()["run_id"], "completed"))["input"] == {
        "topic": "bearer",
        "times": 1,
    }


async def test_a_replayed_idempotency_key_starts_no_second_run(server, pool, worker, trigger):
    owner = await make_user(pool)
    row, secret = await trigger(owner)
    other, other_secret = await trigger(owner, name="Another")
    url, body = f"/hooks/t/{row['id']}", b'{"topic": "once"}'
    headers = signed(secret, body, **{"Idempotency-Key": "delivery-7f3a"})
    async with httpx.AsyncClient(base_url=server.url) as client:
        first = await client.post(url, content=body, headers=headers)
        again = await client.post(url, content=body, headers=headers)
        # The same key to another trigger is another delivery: keys are scoped per trigger.
        elsewhere = await client.post(
            f"/hooks/t/{other['id']}",
            content=body,
            headers=signed(other_secret, body, **{"Idempotency-Key": "delivery-7f3a"}),
        )
        bad_key = await client.post(
            url, content=body, headers=signed(secret, body, **{"Idempotency-Key": "k" * 201})
        )
    assert first.status_code == 202 and again.status_code == 200, (first.text, again.text)
    assert again.json() == first.json() | {"replayed": True, "status": again.json()["status"]}
    assert elsewhere.status_code == 202 and elsewhere.json()["run_id"] != first.json()["run_id"]
    error_of(bad_key, 400, "bad_request")
    assert len(await runs_of(pool, owner)) == 2
    assert [
        (d["status"], d["replayed"]) for d in reversed(await deliveries_of(pool, row["id"]))
    ] == [(202, False), (200, True), (400, False)]


async def test_a_bad_body_is_422_listing_every_problem_by_field(server, pool, trigger):
    owner = await make_user(pool)
    row, secret = await trigger(owner, mapping={"topic": "/title", "times": "/n"})
    url = f"/hooks/t/{row['id']}"
    body = json.dumps({"n": 99}).encode()
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(url, content=body, headers=signed(secret, body))
        problems = {
            f["field"]: f["message"] for f in error_of(response, 422, "invalid_input")["fields"]
        }
        assert set(problems) == {"topic", "times"}
        assert "/title" in problems["topic"] and "/n" in problems["times"]
        for bad in (b"{not json", b"[1]", b"", b'{"a": 1, "a": 2}', b"\xff"):
            error_of(
                await client.post(url, content=bad, headers=signed(secret, bad)),
                400,
                "invalid_json",
            )
        too_big = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'
        error_of(
            await client.post(url, content=too_big, headers=signed(secret, too_big)),
            413,
            "body_too_large",
        )
    assert await runs_of(pool, owner) == []


async def test_disabled_deleted_and_unknown_triggers_are_404(server, pool, trigger):
    owner = await make_user(pool)
    row, secret = await trigger(owner)
    url, body = f"/hooks/t/{row['id']}", b'{"topic": "x"}'
    async with httpx.AsyncClient(base_url=server.url) as client:
        async with pool.connection() as conn:
            await store.set_enabled(conn, row["id"], owner, False)
        error_of(
            await client.post(url, content=body, headers=signed(secret, body)), 404, "not_found"
        )
        async with pool.connection() as conn:
            await store.set_enabled(conn, row["id"], owner, True)
            assert await store.delete_trigger(conn, row["id"], owner)
        error_of(
            await client.post(url, content=body, headers=signed(secret, body)), 404, "not_found"
        )
        error_of(
            await client.post(
                "/hooks/t/00000000-0000-0000-0000-000000000000", content=body, headers=JSON
            ),
            404,
            "not_found",
        )
        error_of(
            await client.post("/hooks/t/not-a-uuid", content=body, headers=JSON), 404, "not_found"
        )
        error_of(await client.get(url), 405, "method_not_allowed")
    assert await runs_of(pool, owner) == []


async def test_deliveries_over_the_trigger_s_rate_are_429(server, pool, worker, trigger):
    owner = await make_user(pool)
    row, secret = await trigger(owner, rate=3)
    url, body = f"/hooks/t/{row['id']}", b'{"topic": "flood"}'
    async with httpx.AsyncClient(base_url=server.url) as client:
        answers = [
            await client.post(url, content=body, headers=signed(secret, body)) for _ in range(5)
        ]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    error_of(answers[-1], 429, "rate_limited")
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert len(await runs_of(pool, owner)) == 3


async def test_a_disabled_accounts_triggers_start_nothing(server, pool, trigger):
    owner = await make_user(pool)
    row, secret = await trigger(owner)
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (owner,))
    body = b'{"topic": "x"}'
    async with httpx.AsyncClient(base_url=server.url) as client:
        error_of(
            await client.post(f"/hooks/t/{row['id']}", content=body, headers=signed(secret, body)),
            404,
            "not_found",
        )
    assert await runs_of(pool, owner) == []
