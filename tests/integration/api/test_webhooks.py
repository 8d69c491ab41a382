"""`POST /hooks/<token>`: the first valid delivery resumes the run; replays, bad signatures,
malformed or oversized bodies are refused and change nothing."""

from __future__ import annotations

import json

from app.web.webhooks import signature
from tests.integration.api.conftest import start, wait_for, waiting_hook
from tests.integration.api.test_api_runs import error_of
from tests.integration.api.workflows import WEBHOOK

JSON = {"Content-Type": "application/json"}


async def hook_state(pool, hook_id) -> dict:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT status, action, response FROM hooks WHERE id = %s", (hook_id,)
            )
        ).fetchone()


async def test_the_first_delivery_resumes_the_run_and_replays_get_409(api, account, pool, worker):
    run = await start(pool, account, WEBHOOK)
    hook = await waiting_hook(pool, run.id)
    api.cookies.clear()  # no session, no CSRF token: the token in the URL is the credential
    first = await api.post(
        f"/hooks/{hook['token']}", content=b'{"build": 17, "ok": true}', headers=JSON
    )
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "resolved", "hook": "callback", "run_id": str(run.id)}
    done = await wait_for(pool, run.id, "completed")
    assert done["output"] == {
        "action": "deliver",
        "data": {"build": 17, "ok": True},
        "timed_out": False,
    }

    replay = await api.post(f"/hooks/{hook['token']}", content=b'{"build": 18}', headers=JSON)
    error_of(replay, 409, "already_decided")
    assert (await hook_state(pool, hook["id"]))["response"] == {"build": 17, "ok": True}


async def test_a_signed_hook_refuses_missing_or_wrong_signatures(api, account, pool, worker):
    run = await start(pool, account, WEBHOOK, secret="s3cret")
    hook = await waiting_hook(pool, run.id)
    url, body = f"/hooks/{hook['token']}", json.dumps({"paid": True}).encode()
    error_of(await api.post(url, content=body, headers=JSON), 401, "invalid_signature")
    wrong = signature("another secret", body)
    error_of(
        await api.post(url, content=body, headers=JSON | {"X-Baton-Signature": wrong}),
        401,
        "invalid_signature",
    )
    tampered = signature("s3cret", body)
    error_of(
        await api.post(
            url, content=b'{"paid": false}', headers=JSON | {"X-Baton-Signature": tampered}
        ),
        401,
        "invalid_signature",
    )
    assert (await hook_state(pool, hook["id"]))["status"] == "waiting"

    good = await api.post(
        url, content=body, headers=JSON | {"X-Baton-Signature": signature("s3cret", body)}
    )
    assert good.status_code == 200, good.text
    assert (await wait_for(pool, run.id, "completed"))["output"]["data"] == {"paid": True}
    replayed = await api.post(
        url, content=body, headers=JSON | {"X-Baton-Signature": signature("s3cret", body)}
    )
    error_of(replayed, 409, "already_decided")


async def test_bad_bodies_are_refused_and_lose_nothing(api, account, pool, worker):
    run = await start(pool, account, WEBHOOK)
    hook = await waiting_hook(pool, run.id)
    url = f"/hooks/{hook['token']}"
    for bad in (b"{not json", b"", b"[1, 2]", b'"text"', b'{"a": "\\u0000"}', b"\xff\xfe"):
        error_of(await api.post(url, content=bad, headers=JSON), 400, "invalid_json")
    too_big = b'{"blob": "' + b"x" * (1024 * 1024) + b'"}'
    error_of(await api.post(url, content=too_big, headers=JSON), 413, "body_too_large")
    assert (await hook_state(pool, hook["id"]))["status"] == "waiting"

    almost_too_big = b'{"blob": "' + b"x" * (1024 * 1024 - 20) + b'"}'
    assert (await api.post(url, content=almost_too_big, headers=JSON)).status_code == 200
    done = await wait_for(pool, run.id, "completed")
    assert len(done["output"]["data"]["blob"]) == 1024 * 1024 - 20


async def test_unknown_tokens_and_other_kinds_of_hook_are_404(api, account, pool, worker):
    error_of(await api.post("/hooks/" + "a" * 43, content=b"{}", headers=JSON), 404, "not_found")
    error_of(await api.post("/hooks/x", content=b"{}", headers=JSON), 404, "not_found")
    run = await start(pool, account, WEBHOOK, gate=True)  # an approval hook first: not for webhooks
    gate = await waiting_hook(pool, run.id, "gate")
    error_of(
        await api.post(f"/hooks/{gate['token']}", content=b"{}", headers=JSON), 404, "not_found"
    )
    assert (await hook_state(pool, gate["id"]))["status"] == "waiting"
    error_of(await api.get(f"/hooks/{gate['token']}"), 405, "method_not_allowed")


async def test_expired_and_ended_hooks_are_409(api, account, pool, worker):
    expiring = await start(pool, account, WEBHOOK, timeout_s=600)
    hook = await waiting_hook(pool, expiring.id)
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE hooks SET expires_at = now() - interval '1 second' WHERE id = %s", (hook["id"],)
        )
    error_of(await api.post(f"/hooks/{hook['token']}", content=b"{}", headers=JSON), 409, "expired")

    cancelled = await start(pool, account, WEBHOOK)
    hook = await waiting_hook(pool, cancelled.id)
    assert (
        await api.post(f"/api/v1/runs/{cancelled.id}/cancel", headers=account.headers)
    ).status_code == 200
    error_of(
        await api.post(f"/hooks/{hook['token']}", content=b"{}", headers=JSON), 409, "invalid_state"
    )


async def test_a_workflow_may_name_its_own_webhook_actions(api, account, pool, worker):
    run = await start(pool, account, WEBHOOK, actions=["succeeded", "failed"])
    hook = await waiting_hook(pool, run.id)
    error_of(
        await api.post(f"/hooks/{hook['token']}", content=b"{}", headers=JSON),
        422,
        "invalid_action",
    )
    chosen = await api.post(
        f"/hooks/{hook['token']}?action=failed", content=b'{"why": "tests"}', headers=JSON
    )
    assert chosen.status_code == 200
    assert (await wait_for(pool, run.id, "completed"))["output"]["action"] == "failed"
