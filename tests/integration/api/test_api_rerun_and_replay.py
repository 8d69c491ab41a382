"""`POST /api/v1/runs/{id}/rerun` and `/api/v1/replays`: the API's rerun and bulk replay, with the
same checks as the web (another account's run or replay is a 404)."""

import secrets

import tests.integration.engine.rerun_workflows as W
from tests.integration.api.conftest import new_account, start
from tests.support.engine import wait_status
from tests.support.waiting import wait_for


async def test_api_rerun_with_an_edited_output_and_its_refusals(api, pool, worker, account):
    tag = f"api-{secrets.token_hex(4)}"
    original = await start(pool, account, "test-rerun", tag=tag)
    await wait_status(pool, original.id, "completed")
    made = await api.post(
        f"/api/v1/runs/{original.id}/rerun",
        headers=account.headers,
        json={"from_step": "middle", "step_output": {"n": 5}},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["rerun_of"] == str(original.id) and body["rerun_from"]["step"] == "middle"
    assert (await wait_status(pool, body["id"], "completed"))["output"] == {"n": 6, "tag": tag}

    missing = await api.post(
        f"/api/v1/runs/{original.id}/rerun", headers=account.headers, json={"from_step": "nope"}
    )
    assert (
        missing.status_code == 422 and missing.json()["error"]["fields"][0]["field"] == "from_step"
    )
    bad_input = await api.post(
        f"/api/v1/runs/{original.id}/rerun", headers=account.headers, json={"input": {"tag": 1}}
    )
    assert (
        bad_input.status_code == 422
        and bad_input.json()["error"]["fields"][0]["field"] == "input.tag"
    )
    other = await new_account(pool)
    assert (
        await api.post(f"/api/v1/runs/{original.id}/rerun", headers=other.headers, json={})
    ).status_code == 404


async def test_api_replay_dry_run_then_replay_and_follow(api, pool, worker, account):
    W.BROKEN["deliver"] = True
    runs = [
        await start(pool, account, "test-replay", tag=f"ar-{secrets.token_hex(4)}")
        for _ in range(3)
    ]
    for run in runs:
        await wait_status(pool, run.id, "failed", timeout=30)
    dry = await api.post(
        "/api/v1/replays",
        headers=account.headers,
        json={"workflow": "test-replay", "dry_run": True},
    )
    assert (
        dry.status_code == 200 and dry.json()["replay"] is None and len(dry.json()["selected"]) == 3
    )
    W.BROKEN["deliver"] = False
    try:
        made = await api.post(
            "/api/v1/replays", headers=account.headers, json={"workflow": "test-replay"}
        )
        assert made.status_code == 201, made.text
        replay_id = made.json()["replay"]["id"]

        async def all_completed():
            got = (await api.get(f"/api/v1/replays/{replay_id}", headers=account.headers)).json()
            return got["counts"]["completed"] == 3 and got

        done = await wait_for(all_completed, timeout=30, what="the 3 replayed runs to complete")
    finally:
        W.BROKEN["deliver"] = True
    assert done["status"] == "completed" and all(i["state"] == "started" for i in done["items"])
    again = await api.post(f"/api/v1/replays/{replay_id}/cancel", headers=account.headers)
    assert again.status_code == 409
    other = await new_account(pool)
    assert (await api.get(f"/api/v1/replays/{replay_id}", headers=other.headers)).status_code == 404
    refused = await api.post(
        "/api/v1/replays",
        headers=other.headers,
        json={"workflow": "test-replay", "owner": "someone@example.test"},
    )
    assert refused.status_code == 422 and refused.json()["error"]["fields"][0]["field"] == "owner"


async def test_an_admin_replays_a_users_runs_on_their_behalf(api, pool, worker, account):
    W.BROKEN["deliver"] = True
    runs = [
        await start(pool, account, "test-replay", tag=f"ad-{secrets.token_hex(4)}")
        for _ in range(2)
    ]
    for run in runs:
        await wait_status(pool, run.id, "failed", timeout=30)
    admin = await new_account(pool)
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET is_admin = true WHERE id = %s", (admin.user_id,))
        email = (
            await (
                await conn.execute("SELECT email FROM users WHERE id = %s", (account.user_id,))
            ).fetchone()
        )["email"]
    made = await api.post(
        "/api/v1/replays",
        headers=admin.headers,
        json={"workflow": "test-replay", "owner": email, "from_step": "start"},
    )
    assert made.status_code == 201, made.text
    replay_id = made.json()["replay"]["id"]

    async def all_started():
        got = (
            await api.get(f"/api/v1/replays/{replay_id}", headers=account.headers)
        ).json()  # the owner sees it too
        return got["counts"]["started"] == 2 and got

    done = await wait_for(all_started, timeout=30, what="both runs to be replayed")
    async with pool.connection() as conn:
        owners = await (
            await conn.execute(
                "SELECT DISTINCT owner_id FROM runs WHERE id = ANY(%s)",
                ([i["new_run_id"] for i in done["items"]],),
            )
        ).fetchall()
    assert owners == [
        {"owner_id": account.user_id}
    ]  # the runs stay the user's (and count on their quota)
