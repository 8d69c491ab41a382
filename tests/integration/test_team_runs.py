"""Issue 20, runs in spaces, on the web: every page, fragment, action and download acts within the
request's space. Members of a team see each other's team runs (never each other's personal runs);
a viewer reads but every action that changes a run answers 403 with the reason; a removed member
and a member of another team get 404; a colleague's run reaches a member's dashboard live."""

import asyncio

import tests.integration.api.workflows  # noqa: F401  (registers the files workflow)
from app.web.live import LiveHub
from app.web.notifications.live import page_events
from tests.integration.api.workflows import FILES
from tests.support.engine import wait_status
from tests.support.team_runs import add_member, make_team, remove_member, start_in, use_space
from tests.support.web import log_in, make_user, new_email, token


async def _user(pool, prefix: str):
    return await make_user(pool, new_email(prefix), tier="enterprise")


async def _personal(pool, user_id: int) -> int:
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT id FROM spaces WHERE personal_of = %s", (user_id,))
        ).fetchone()
    return row["id"]


async def _settled(pool, *runs) -> None:
    """Wait until the worker has taken each run to its approval: the test client blocks the loop
    the in-process worker runs on, so no request may wait on a run the worker is advancing."""
    for run in runs:
        await wait_status(pool, run.id, "waiting")


async def _as(client, pool, user, space_id: int) -> None:
    """Sign the client in as `user`, working in `space_id`."""
    assert (await log_in(client, user.email)).status_code == 303
    await use_space(pool, user.id, space_id)


async def test_team_members_see_each_others_team_runs_but_not_their_personal_runs(
    app_client, pool, worker
):
    alice, bob = await _user(pool, "alice"), await _user(pool, "bob")
    team, _ = await make_team(pool, alice.id)
    await add_member(pool, team, bob.id, "member")
    by_alice = await start_in(pool, alice.id, team, "test-hook")
    by_bob = await start_in(pool, bob.id, team, "test-hook")
    alice_own = await start_in(pool, alice.id, None, "test-hook")
    bob_own = await start_in(pool, bob.id, None, "test-hook")
    await _settled(pool, by_alice, by_bob, alice_own, bob_own)

    await _as(app_client, pool, bob, team)
    page = await app_client.get("/workflows")
    assert page.status_code == 200
    assert str(by_alice.id) in page.text and str(by_bob.id) in page.text
    assert str(alice_own.id) not in page.text and str(bob_own.id) not in page.text
    assert f"by {alice.email}" in page.text  # a team's dashboard says who started each run
    detail = await app_client.get(f"/workflows/{by_alice.id}")
    assert detail.status_code == 200 and "In team" in detail.text and alice.email in detail.text
    body = await app_client.get(f"/workflows/{by_alice.id}?fragment=body")
    assert body.status_code == 200 and "<html" not in body.text
    card = await app_client.get(f"/chat/runs/{by_alice.id}/card")
    assert card.status_code == 200 and "In team" in card.text
    assert (await app_client.get(f"/workflows/{alice_own.id}")).status_code == 404
    # Bob's own personal run, opened while he works in the team: where it is, not its contents.
    own = await app_client.get(f"/workflows/{bob_own.id}")
    assert own.status_code == 200 and "This run is in Personal" in own.text
    assert (await app_client.get(f"/workflows/{bob_own.id}?fragment=body")).status_code == 404
    assert (await app_client.get(f"/workflows/{alice_own.id}?fragment=body")).status_code == 404
    assert (await app_client.get(f"/chat/runs/{alice_own.id}/card")).status_code == 404

    # Back in his personal space, Bob sees his own runs only (his team run stays in his chat's card).
    await use_space(pool, bob.id, await _personal(pool, bob.id))
    page = await app_client.get("/workflows")
    assert str(bob_own.id) in page.text
    assert str(by_alice.id) not in page.text and str(by_bob.id) not in page.text
    # The team's run, opened from the personal space: where it is, not its contents.
    elsewhere = await app_client.get(f"/workflows/{by_alice.id}")
    assert elsewhere.status_code == 200 and "This run is in" in elsewhere.text
    assert by_alice.title not in elsewhere.text
    assert (await app_client.get(f"/chat/runs/{by_bob.id}/card")).status_code == 200
    assert (await app_client.get(f"/chat/runs/{by_alice.id}/card")).status_code == 404


async def test_a_viewer_reads_team_runs_but_gets_403_for_every_action_that_changes_one(
    app_client, pool, worker
):
    owner, viewer, member = (
        await _user(pool, "own"),
        await _user(pool, "view"),
        await _user(pool, "memb"),
    )
    team, _ = await make_team(pool, owner.id)
    await add_member(pool, team, viewer.id, "viewer")
    await add_member(pool, team, member.id, "member")
    run = await start_in(pool, owner.id, team, "test-hook")
    await _settled(pool, run)
    await _as(app_client, pool, viewer, team)
    page = await app_client.get(f"/workflows/{run.id}")
    assert page.status_code == 200 and "You are a viewer" in page.text
    assert f'action="/workflows/{run.id}/cancel"' not in page.text
    csrf = await token(app_client, "/workflows")
    form = {"_csrf_token": csrf}
    rid = run.id
    refused = [
        await app_client.get(f"/workflows/{rid}/cancel"),
        await app_client.post(f"/workflows/{rid}/cancel", data=form),
        await app_client.post(f"/workflows/{rid}/retry", data=form),
        await app_client.get(f"/workflows/{rid}/rerun"),
        await app_client.post(f"/workflows/{rid}/rerun", data=form),
        await app_client.post(f"/workflows/{rid}/title", data=form | {"title": "Mine now"}),
        await app_client.post(f"/chat/runs/{rid}/cancel", data=form),
        await app_client.post("/workflows/replay", data=form | {"workflow": "test-hook"}),
    ]
    for response in refused:
        assert response.status_code == 403, (response.request.url, response.text[:300])
        assert "viewer" in response.text  # the reason, from app/core/policy.py
    htmx = await app_client.post(
        f"/workflows/{rid}/cancel", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
    )
    assert htmx.status_code == 403
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT status, title FROM runs WHERE id = %s", (rid,))
        ).fetchone()
    assert row["title"] != "Mine now"
    assert row["status"] == "waiting"  # still waiting for its approval: nothing changed it

    # A member of the team may: the colleague cancels the owner's run.
    await _as(app_client, pool, member, team)
    csrf = await token(app_client, "/workflows")
    renamed = await app_client.post(
        f"/workflows/{rid}/title", data={"_csrf_token": csrf, "title": "Renamed by a colleague"}
    )
    assert renamed.status_code == 303
    cancelled = await app_client.post(f"/workflows/{rid}/cancel", data={"_csrf_token": csrf})
    assert cancelled.status_code == 303
    await wait_status(pool, rid, "cancelled")


async def test_a_removed_member_and_another_teams_member_get_404(app_client, pool, worker):
    alice, bob, carol = (
        await _user(pool, "alice"),
        await _user(pool, "bob"),
        await _user(pool, "carol"),
    )
    team, _ = await make_team(pool, alice.id)
    other, _ = await make_team(pool, carol.id)
    await add_member(pool, team, bob.id, "member")
    run = await start_in(pool, bob.id, team, "test-hook")
    await _settled(pool, run)
    await _as(app_client, pool, carol, other)
    csrf = await token(app_client, "/workflows")
    for response in (
        await app_client.get(f"/workflows/{run.id}"),
        await app_client.get(f"/chat/runs/{run.id}/card"),
        await app_client.post(f"/workflows/{run.id}/cancel", data={"_csrf_token": csrf}),
        await app_client.get(f"/workflows/{run.id}/steps/0/output.json"),
    ):
        assert response.status_code == 404, response.request.url
    assert str(run.id) not in (await app_client.get("/workflows")).text

    await _as(app_client, pool, bob, team)
    assert (await app_client.get(f"/workflows/{run.id}")).status_code == 200
    await remove_member(pool, team, bob.id)  # his session falls back to his personal space
    csrf = await token(app_client, "/workflows")
    for response in (
        await app_client.get(f"/workflows/{run.id}"),
        await app_client.get(f"/chat/runs/{run.id}/card"),  # even the run he started
        await app_client.post(f"/workflows/{run.id}/cancel", data={"_csrf_token": csrf}),
    ):
        assert response.status_code == 404, response.request.url
    assert str(run.id) not in (await app_client.get("/workflows")).text


async def test_a_team_runs_files_download_for_its_members_only(app_client, pool, worker):
    alice, bob, carol = (
        await _user(pool, "alice"),
        await _user(pool, "bob"),
        await _user(pool, "carol"),
    )
    team, _ = await make_team(pool, alice.id)
    other, _ = await make_team(pool, carol.id)
    await add_member(pool, team, bob.id, "viewer")
    run = await start_in(pool, alice.id, team, FILES, topic="Team notes")
    await wait_status(pool, run.id, "completed")
    async with pool.connection() as conn:
        artifact = await (
            await conn.execute("SELECT id FROM artifacts WHERE run_id = %s", (run.id,))
        ).fetchone()
    url = f"/artifacts/{artifact['id']}"

    await _as(app_client, pool, bob, team)  # a viewer reads the team's files
    page = await app_client.get(f"/workflows/{run.id}")
    assert url in page.text
    download = await app_client.get(url)
    assert download.status_code == 200 and download.content == b"# Team notes\n"

    await _as(app_client, pool, carol, other)  # another team: not found
    assert (await app_client.get(url)).status_code == 404
    await _as(app_client, pool, bob, await _personal(pool, bob.id))  # the same member, elsewhere
    assert (await app_client.get(url)).status_code == 404
    async with pool.connection() as conn:
        first = await (
            await conn.execute(
                "SELECT first_downloaded_at FROM artifacts WHERE id = %s", (artifact["id"],)
            )
        ).fetchone()
    assert first["first_downloaded_at"] is None  # a colleague's download is not the owner's
    # The member who started it gets it from any space (its card in her chat links it) ...
    await _as(app_client, pool, alice, await _personal(pool, alice.id))
    assert (await app_client.get(url)).status_code == 200
    await remove_member(pool, team, alice.id)  # ... while she is still a member of the team
    assert (await app_client.get(url)).status_code == 404


async def _next_name(stream, timeout: float = 5.0) -> str:
    """The next named event of a page stream (pings and retry lines skipped)."""
    while True:
        chunk = (await asyncio.wait_for(anext(stream), timeout)).decode()
        if chunk.startswith("id:"):
            return chunk.split("event: ", 1)[1].split("\n", 1)[0]


async def test_a_colleagues_run_appears_live_on_a_members_dashboard(database_url, pool):
    alice, bob, carol = (
        await _user(pool, "alice"),
        await _user(pool, "bob"),
        await _user(pool, "carol"),
    )
    team, _ = await make_team(pool, alice.id)
    other, _ = await make_team(pool, carol.id)
    await add_member(pool, team, bob.id, "viewer")
    hub = LiveHub(database_url)
    await hub.start()
    bobs = page_events(hub, bob.id, resume=False, space_id=team)
    carols = page_events(hub, carol.id, resume=False, space_id=other)
    try:
        for stream in (bobs, carols):
            assert await _next_name(stream) == "resync"
        run = await start_in(pool, alice.id, team, "test-hook")  # Alice starts one in the team
        names = {await _next_name(bobs), await _next_name(bobs)}
        assert names == {f"run-{run.id}", "runs"}
        assert f"run-{run.id}" not in await _drain(carols)  # another team hears nothing of it
    finally:
        await bobs.aclose()
        await carols.aclose()
        await hub.stop()


async def _drain(stream, quiet_s: float = 0.5) -> list[str]:
    names = []
    try:
        while True:
            names.append(await _next_name(stream, quiet_s))
    except TimeoutError:
        return names


async def test_the_account_page_in_a_team_shows_the_teams_runs_against_its_plan(
    app_client, pool, worker
):
    alice, bob = await _user(pool, "alice"), await _user(pool, "bob")  # enterprise themselves
    team, _ = await make_team(pool, alice.id, tier="pro")  # the team's plan: 10 runs a month
    await add_member(pool, team, bob.id, "member")
    runs = [await start_in(pool, user.id, team, "test-hook") for user in (alice, alice, bob)]
    runs.append(await start_in(pool, bob.id, None, "test-hook"))  # personal: not the team's
    await _settled(pool, *runs)
    await _as(app_client, pool, bob, team)
    page = await app_client.get("/account")
    assert page.status_code == 200
    assert "This month in team" in page.text and "Pro plan" in page.text
    assert '<progress max="10" value="3">' in page.text
    await _as(app_client, pool, bob, await _personal(pool, bob.id))
    page = await app_client.get("/account")
    assert "This month in team" not in page.text and "<progress" not in page.text  # unlimited


async def test_a_run_started_from_a_chat_in_a_team_belongs_to_the_team_and_a_viewer_may_not_start(
    app_client, pool
):
    alice, viewer = await _user(pool, "alice"), await _user(pool, "viewer")
    team, _ = await make_team(pool, alice.id)
    await add_member(pool, team, viewer.id, "viewer")
    await _as(app_client, pool, alice, team)
    csrf = await token(app_client, "/chat")
    started = await app_client.post(
        "/chat/workflows/content-generation", data={"_csrf_token": csrf, "prompt": "Team brief"}
    )
    assert started.status_code == 303, started.text
    conversation_id = int(started.headers["location"].rsplit("/", 1)[1])
    async with pool.connection() as conn:
        run = await (
            await conn.execute(
                "SELECT r.id, r.space_id, r.owner_id, c.user_id AS chat_user FROM runs r"
                " JOIN conversations c ON c.id = r.chat_id WHERE r.chat_id = %s",
                (conversation_id,),
            )
        ).fetchone()
    assert run["space_id"] == team and run["owner_id"] == alice.id
    assert run["chat_user"] == alice.id  # the chat stays hers
    card = await app_client.get(f"/chat/runs/{run['id']}/card")
    assert card.status_code == 200 and "In team" in card.text

    await _as(app_client, pool, viewer, team)
    csrf = await token(app_client, "/chat")
    refused = await app_client.post(
        "/chat/workflows/content-generation", data={"_csrf_token": csrf, "prompt": "Not mine"}
    )
    assert refused.status_code == 403 and "viewer" in refused.text
    in_place = await app_client.post(
        "/chat/workflows/content-generation",
        data={"prompt": "Not mine"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert in_place.status_code == 422 and "viewer" in in_place.text  # HTMX swaps it in place
    async with pool.connection() as conn:
        mine = await (
            await conn.execute("SELECT count(*) AS n FROM runs WHERE owner_id = %s", (viewer.id,))
        ).fetchone()
    assert mine["n"] == 0
