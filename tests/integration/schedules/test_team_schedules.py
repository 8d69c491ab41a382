"""Team schedules: "Run now" by another member starts the run as that member (its owner, and the
actor in the team's audit log), still as a fire of the schedule."""

import tests.integration.schedules.workflows  # noqa: F401  (registers test-tick)
from app.schedules import store
from tests.integration.schedules.helpers import draft, fires
from tests.support.engine import make_user
from tests.support.teams import make_team


async def test_run_now_by_another_member_is_that_member_s_run_and_audit_entry(pool):
    alice, bob = await make_user(pool), await make_user(pool)
    team = await make_team(pool, alice, {bob: "member"})
    async with pool.connection() as conn:
        s = await store.create_schedule(
            conn, alice, draft(name="digest", every_s=86400), space_id=team["id"]
        )
        fired = await store.trigger_schedule(conn, s["id"], bob, space_id=team["id"])
        run = await (
            await conn.execute("SELECT * FROM runs WHERE id = %s", (fired.run.id,))
        ).fetchone()
        entry = await (
            await conn.execute(
                "SELECT actor_id, detail FROM audit_log WHERE action = 'run.start' AND object_id = %s",
                (str(run["id"]),),
            )
        ).fetchone()
    assert run["owner_id"] == bob and run["space_id"] == team["id"]
    assert run["schedule_id"] == s["id"] and run["fire_at"] == fired.fire_at
    assert entry["actor_id"] == bob and entry["detail"]["schedule_id"] == str(s["id"])
    assert [(f["kind"], f["run_id"]) for f in await fires(pool, s["id"])] == [("manual", run["id"])]


async def test_a_schedule_whose_owner_left_the_team_pauses_itself_saying_so(pool):
    """Its next fire is skipped ("no access") and the schedule pauses with a note that /schedules
    shows, instead of skipping every fire where nobody looks."""
    from app.schedules.jobs import fire_due

    alice, bob = await make_user(pool), await make_user(pool)
    team = await make_team(pool, alice, {bob: "member"})
    async with pool.connection() as conn:
        s = await store.create_schedule(
            conn, bob, draft(name="bob's digest", every_s=3600), space_id=team["id"]
        )
        await conn.execute(
            "DELETE FROM space_members WHERE space_id = %s AND user_id = %s", (team["id"], bob)
        )
        await conn.execute(
            "UPDATE schedules SET anchor_at = now() - interval '10 s', "
            "next_fire_at = now() - interval '10 s' WHERE id = %s",
            (s["id"],),
        )
        await fire_due(conn)
        row = await (
            await conn.execute("SELECT * FROM schedules WHERE id = %s", (s["id"],))
        ).fetchone()
    assert [f["outcome"] for f in await fires(pool, s["id"])] == ["skipped: no access"]
    assert row["paused"] and row["next_fire_at"] is None
    assert "owner may no longer start runs in this team" in row["paused_note"]


async def test_a_team_admin_takes_over_a_schedule_whose_owner_left_and_a_member_may_not(
    pool, app_client
):
    from tests.support.teams import signed_in_user, work_in
    from tests.support.web import csrf_of

    admin = await signed_in_user(pool, app_client)
    admin_cookie = app_client.cookies["baton_session"]
    member = await signed_in_user(pool, app_client)
    member_cookie = app_client.cookies["baton_session"]
    leaver = await make_user(pool)
    team = await make_team(pool, admin.id, {member.id: "member", leaver: "member"})
    async with pool.connection() as conn:
        s = await store.create_schedule(
            conn, leaver, draft(name="orphan", every_s=3600), space_id=team["id"]
        )
        await conn.execute(
            "DELETE FROM space_members WHERE space_id = %s AND user_id = %s", (team["id"], leaver)
        )
        await store.pause_schedule(conn, s["id"], None, "owner left")
    for user in (admin, member):
        await work_in(pool, user.id, team["id"])

    app_client.cookies.set("baton_session", member_cookie)
    page = await app_client.get(f"/schedules/{s['id']}")
    assert "Take it over" not in page.text
    refused = await app_client.post(
        f"/schedules/{s['id']}/take-over", headers={"X-CSRF-Token": csrf_of(page.text)}
    )
    assert refused.status_code == 403

    app_client.cookies.set("baton_session", admin_cookie)
    page = await app_client.get(f"/schedules/{s['id']}")
    assert "Take it over" in page.text
    taken = await app_client.post(
        f"/schedules/{s['id']}/take-over", headers={"X-CSRF-Token": csrf_of(page.text)}
    )
    assert taken.status_code == 303
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT owner_id FROM schedules WHERE id = %s", (s["id"],))
        ).fetchone()
        entry = await (
            await conn.execute(
                "SELECT actor_id, detail FROM audit_log WHERE object_id = %s "
                "AND action = 'schedule.change'",
                (str(s["id"]),),
            )
        ).fetchone()
    assert row["owner_id"] == admin.id
    assert entry["actor_id"] == admin.id and entry["detail"]["taken_over_from"] == leaver
