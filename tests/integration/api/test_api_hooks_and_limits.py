"""Answering hooks through the API, authentication by key, and the per-tier rate limit."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from app.core.ratelimit import API_CALLS
from tests.integration.api.conftest import new_account, start, wait_for, waiting_hook
from tests.integration.api.test_api_runs import error_of
from tests.integration.api.workflows import WEBHOOK


async def test_a_hook_is_decided_once_then_409_already_decided(api, account, pool, worker):
    run = await start(pool, account, WEBHOOK)
    hook = await waiting_hook(pool, run.id)
    url = f"/api/v1/hooks/{hook['token']}"
    decided = await api.post(
        url, headers=account.headers, json={"action": "deliver", "data": {"n": 1}}
    )
    assert decided.status_code == 200, decided.text
    assert decided.json() | {"decided_at": None} == {
        "run_id": str(run.id),
        "name": "callback",
        "kind": "webhook",
        "status": "resolved",
        "action": "deliver",
        "decided_by": decided.json()["decided_by"],
        "decided_at": None,
    }
    error_of(
        await api.post(url, headers=account.headers, json={"action": "deliver", "data": {"n": 2}}),
        409,
        "already_decided",
    )
    done = await wait_for(pool, run.id, "completed")
    assert done["output"]["data"] == {"n": 1}


async def test_hooks_of_others_unknown_tokens_and_bad_actions(api, account, pool, worker):
    other = await new_account(pool)
    run = await start(pool, other, WEBHOOK)
    hook = await waiting_hook(pool, run.id)
    body = {"action": "deliver", "data": {}}
    error_of(
        await api.post(f"/api/v1/hooks/{hook['token']}", headers=account.headers, json=body),
        404,
        "not_found",
    )
    error_of(
        await api.post("/api/v1/hooks/" + "x" * 43, headers=account.headers, json=body),
        404,
        "not_found",
    )
    error_of(
        await api.post("/api/v1/hooks/short", headers=account.headers, json=body), 404, "not_found"
    )
    bad = await api.post(
        f"/api/v1/hooks/{hook['token']}", headers=other.headers, json={"action": "approve"}
    )
    error_of(bad, 422, "invalid_action")
    error_of(
        await api.post(f"/api/v1/hooks/{hook['token']}", headers=other.headers, json={"data": {}}),
        422,
        "invalid_input",
    )
    assert (await waiting_hook(pool, run.id))["status"] == "waiting"  # nothing above decided it


async def test_an_expired_hook_is_409_expired(api, account, pool, worker):
    run = await start(pool, account, WEBHOOK, timeout_s=600)
    hook = await waiting_hook(pool, run.id)
    async with pool.connection() as conn:  # as if the ten minutes had passed
        await conn.execute(
            "UPDATE hooks SET expires_at = now() - interval '1 second' WHERE id = %s", (hook["id"],)
        )
    error_of(
        await api.post(
            f"/api/v1/hooks/{hook['token']}", headers=account.headers, json={"action": "deliver"}
        ),
        409,
        "expired",
    )


async def test_requests_without_a_valid_key_are_401(api, account, pool):
    for headers in (
        {},
        {"Authorization": "Basic Zm9vOmJhcg=="},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer bk_not-a-real-key"},
        {"Authorization": f"Bearer {account.key}x"},
    ):
        response = await api.get("/api/v1/workflows", headers=headers)
        error_of(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (account.user_id,))
    error_of(await api.get("/api/v1/workflows", headers=account.headers), 401, "unauthorized")


async def test_the_rate_limit_answers_429_with_retry_after_across_processes(
    api, pool, settings, database_url
):
    from app.web.app import create_app

    free = await new_account(pool, tier="free")  # 60 requests a minute
    async with pool.connection() as conn:  # 59 requests already made this minute
        await conn.execute(
            "INSERT INTO rate_events (bucket) SELECT %s FROM generate_series(1, 59)",
            (API_CALLS.bucket(free.user_id),),
        )
    assert (await api.get("/api/v1/workflows", headers=free.headers)).status_code == 200
    async with AsyncTestClient(
        create_app(settings, database_url, run_worker=False)
    ) as other_process:
        limited = await other_process.get("/api/v1/runs", headers=free.headers)
    error_of(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # Another user is not affected, and neither is the key's last minute once it has passed.
    other = await new_account(pool, tier="free")
    assert (await api.get("/api/v1/workflows", headers=other.headers)).status_code == 200
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE rate_events SET at = at - interval '61 seconds' WHERE bucket = %s",
            (API_CALLS.bucket(free.user_id),),
        )
    assert (await api.get("/api/v1/workflows", headers=free.headers)).status_code == 200
