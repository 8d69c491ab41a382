"""Issue 20, runs in spaces, over the API: a key acts in its space. A team's key lists and reads the
team's runs (every member's) and no one's personal runs; runs say which space they belong to; a
viewer's key gets 403 `forbidden` for cancel, retry and rerun; another space's run, its files and
its event stream are 404."""

from tests.integration.api.conftest import new_account, wait_for
from tests.integration.api.workflows import FILES, VISIBLE
from tests.support.team_runs import add_member, make_team, space_key, start_in


async def test_a_team_key_lists_and_reads_the_teams_runs_only(api, pool, worker):
    alice, bob = await new_account(pool), await new_account(pool)
    team, slug = await make_team(pool, alice.user_id)
    await add_member(pool, team, bob.user_id, "member")
    by_alice = await start_in(pool, alice.user_id, team, VISIBLE, topic="a", times=1)
    personal = await start_in(pool, bob.user_id, None, VISIBLE, topic="b", times=1)
    for run in (by_alice, personal):  # settled before requests (the test client blocks the loop)
        await wait_for(pool, run.id, "completed")
    headers = await space_key(pool, bob.user_id, team)

    started = await api.post(
        "/api/v1/runs",
        json={"workflow": VISIBLE, "input": {"topic": "c", "times": 1}},
        headers=headers,
    )
    assert started.status_code == 201, started.text
    assert started.json()["space"]["kind"] == "team" and started.json()["space"]["slug"] == slug
    by_bob = started.json()["id"]
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT space_id, owner_id FROM runs WHERE id = %s", (by_bob,))
        ).fetchone()
    assert row["space_id"] == team and row["owner_id"] == bob.user_id

    listed = await api.get("/api/v1/runs?limit=100", headers=headers)
    ids = {r["id"] for r in listed.json()["runs"]}
    assert ids == {str(by_alice.id), by_bob}
    assert {r["space"]["id"] for r in listed.json()["runs"]} == {team}
    detail = await api.get(f"/api/v1/runs/{by_alice.id}", headers=headers)
    assert detail.status_code == 200
    assert detail.json()["space"] == {
        "id": team,
        "kind": "team",
        "slug": slug,
        "name": detail.json()["space"]["name"],
    }
    missing = await api.get(f"/api/v1/runs/{personal.id}", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    # Bob's personal key sees his personal run and none of the team's.
    mine = await api.get("/api/v1/runs?limit=100", headers=bob.headers)
    assert {r["id"] for r in mine.json()["runs"]} == {str(personal.id)}
    assert mine.json()["runs"][0]["space"]["kind"] == "personal"


async def test_a_viewers_key_gets_403_for_actions_and_another_team_gets_404(api, pool, worker):
    owner, viewer, stranger = (
        await new_account(pool),
        await new_account(pool),
        await new_account(pool),
    )
    team, _ = await make_team(pool, owner.user_id)
    other, _ = await make_team(pool, stranger.user_id)
    await add_member(pool, team, viewer.user_id, "viewer")
    run = await start_in(pool, owner.user_id, team, FILES, topic="Quarterly")
    await wait_for(pool, run.id, "completed")
    viewing = await space_key(pool, viewer.user_id, team)
    elsewhere = await space_key(pool, stranger.user_id, other)

    detail = await api.get(f"/api/v1/runs/{run.id}", headers=viewing)
    assert detail.status_code == 200
    [file] = detail.json()["files"]
    assert (await api.get(file["url"], headers=viewing)).content == b"# Quarterly\n"
    for path, body in (
        (f"/api/v1/runs/{run.id}/cancel", None),
        (f"/api/v1/runs/{run.id}/retry", None),
        (f"/api/v1/runs/{run.id}/rerun", {}),
        ("/api/v1/runs", {"workflow": VISIBLE, "input": {"topic": "x", "times": 1}}),
    ):
        refused = await api.post(path, json=body, headers=viewing)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"]["code"] == "forbidden"
        assert "viewer" in refused.json()["error"]["message"]

    for path in (
        f"/api/v1/runs/{run.id}",
        file["url"],
        f"/api/v1/runs/{run.id}/events",
    ):
        found = await api.get(path, headers=elsewhere)
        assert found.status_code == 404, path
        assert found.json()["error"]["code"] == "not_found"
    cancel = await api.post(f"/api/v1/runs/{run.id}/cancel", headers=elsewhere)
    assert cancel.status_code == 404
    events = await api.get(f"/api/v1/runs/{run.id}/events", headers=viewing)
    assert (
        events.status_code == 200 and "event: status" in events.text
    )  # a finished run's stream ends
