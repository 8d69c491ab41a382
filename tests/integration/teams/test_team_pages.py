"""The /teams pages over HTTP: creating a team, members and roles, invitations (sent through the
mail outbox, single use, 7 days, revocable, for the invited address), the header's switcher and its
fall-back when the member is removed, and 404 for another team / 403 for a role that may not."""

from __future__ import annotations

import re

from tests.support.web import csrf_of, log_in, make_user, new_email, sign_up, token

LINK = re.compile(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+)")
CURRENT_SPACE = re.compile(r'<span class="space-name">([^<]*)</span>')


async def find_user(pool, email: str) -> int | None:
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT id FROM users WHERE email = %s", (email,))
        ).fetchone()
    return row["id"] if row else None


async def user_id(pool, email: str) -> int:
    found = await find_user(pool, email)
    assert found is not None, email
    return found


async def create_team(client, name: str) -> str:
    csrf = await token(client, "/teams")
    response = await client.post("/teams", data={"name": name, "_csrf_token": csrf})
    assert response.status_code == 303, response.text
    return response.headers["location"].removeprefix("/teams/")


async def post(client, path: str, data: dict | None = None):
    csrf = await token(client, "/teams")
    return await client.post(path, data={**(data or {}), "_csrf_token": csrf})


async def invitation_link(pool, email: str) -> str:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT subject, body_text FROM mail_outbox WHERE to_addr = %s AND kind = 'team_invitation' "
                "ORDER BY id DESC LIMIT 1",
                (email,),
            )
        ).fetchone()
    assert row and row["subject"].startswith("Join "), row
    return LINK.search(row["body_text"]).group(1)


async def current_space(client) -> str:
    page = await client.get("/teams")
    return CURRENT_SPACE.search(page.text).group(1)


async def test_an_owner_creates_a_team_adds_changes_and_removes_members(app_client, pool):
    owner = await sign_up(app_client)
    slug = await create_team(app_client, "Platform <Team>")
    assert slug.startswith("platform-team")
    page = await app_client.get(f"/teams/{slug}")
    assert page.status_code == 200
    assert "Platform &lt;Team&gt;" in page.text and "only owner" in page.text
    assert "Usage this month" in page.text and "Send invitation" in page.text

    colleague = await make_user(pool)
    from app.spaces import teams
    from app.spaces.store import team_by_slug

    async with pool.connection() as conn:
        team = await team_by_slug(conn, await user_id(pool, owner), slug)
        await teams.add_member(conn, team, colleague.id, "viewer", actor_id=None)
    changed = await post(
        app_client, f"/teams/{slug}/members/{colleague.id}/role", {"role": "admin"}
    )
    assert changed.status_code == 303
    assert 'value="admin" selected' in (await app_client.get(f"/teams/{slug}")).text

    me = await user_id(pool, owner)
    refused = await post(app_client, f"/teams/{slug}/leave")
    assert refused.status_code == 422 and "only owner" in refused.text
    refused = await post(app_client, f"/teams/{slug}/members/{me}/role", {"role": "member"})
    assert refused.status_code == 422 and "needs an owner" in refused.text
    bad = await post(app_client, f"/teams/{slug}/members/{colleague.id}/role", {"role": "boss"})
    assert bad.status_code == 422

    removed = await post(app_client, f"/teams/{slug}/members/{colleague.id}/remove")
    assert removed.status_code == 303
    assert colleague.email not in (await app_client.get(f"/teams/{slug}")).text
    gone = await post(app_client, f"/teams/{slug}/members/{colleague.id}/remove")
    assert gone.status_code == 422

    again = await post(app_client, f"/teams/{slug}/invitations", {"email": owner, "role": "member"})
    assert again.status_code == 422 and "already a member" in again.text
    assert "/help/teams" in (await app_client.get("/teams")).text
    assert (await app_client.get("/help/teams")).status_code == 200

    renamed = await post(app_client, f"/teams/{slug}/rename", {"name": "Platform"})
    assert renamed.status_code == 303
    assert "<h1>Platform</h1>" in (await app_client.get(f"/teams/{slug}")).text
    async with pool.connection() as conn:
        actions = [
            r["action"]
            for r in await (
                await conn.execute(
                    "SELECT action FROM audit_log WHERE space_id = %s ORDER BY id", (team.id,)
                )
            ).fetchall()
        ]
    assert actions == [
        "team.change",
        "member.add",
        "member.role",
        "member.remove",
        "team.change",
    ]


async def test_another_teams_slug_is_404_and_a_role_that_may_not_is_403(app_client, pool):
    owner = await sign_up(app_client)
    slug = await create_team(app_client, "Private")
    owner_id = await user_id(pool, owner)
    viewer = await make_user(pool)
    stranger = await make_user(pool)
    from app.spaces import teams
    from app.spaces.store import team_by_slug

    async with pool.connection() as conn:
        team = await team_by_slug(conn, owner_id, slug)
        await teams.add_member(conn, team, viewer.id, "viewer", actor_id=owner_id)

    await log_in(app_client, stranger.email)
    assert (await app_client.get(f"/teams/{slug}")).status_code == 404
    for path, data in (
        (f"/teams/{slug}/invitations", {"email": "x@example.com", "role": "member"}),
        (f"/teams/{slug}/members/{viewer.id}/remove", {}),
        (f"/teams/{slug}/leave", {}),
        (f"/teams/{slug}/rename", {"name": "Mine now"}),
        (f"/teams/{slug}/tier", {"tier": "enterprise"}),
        (f"/teams/{slug}/invitations/1/revoke", {}),
    ):
        assert (await post(app_client, path, data)).status_code == 404, path
    assert (await app_client.get("/teams/no-such-team")).status_code == 404

    await log_in(app_client, viewer.email)
    page = await app_client.get(f"/teams/{slug}")
    assert page.status_code == 200 and owner in page.text
    assert "Send invitation" not in page.text and "Usage this month" not in page.text
    for path, data in (
        (f"/teams/{slug}/invitations", {"email": "x@example.com", "role": "member"}),
        (f"/teams/{slug}/members/{owner_id}/remove", {}),
        (f"/teams/{slug}/members/{owner_id}/role", {"role": "viewer"}),
        (f"/teams/{slug}/rename", {"name": "Viewer's"}),
        (f"/teams/{slug}/tier", {"tier": "enterprise"}),
    ):
        response = await post(app_client, path, data)
        assert response.status_code == 403, (path, response.status_code)
    async with pool.connection() as conn:
        count = (
            await (
                await conn.execute(
                    "SELECT count(*) AS n FROM space_invitations WHERE space_id = %s", (team.id,)
                )
            ).fetchone()
        )["n"]
    assert count == 0
    assert (await post(app_client, f"/teams/{slug}/leave")).status_code == 303  # a viewer may leave
    assert (await app_client.get(f"/teams/{slug}")).status_code == 404


async def test_the_switcher_lists_my_spaces_switches_and_falls_back_when_removed(app_client, pool):
    owner = await sign_up(app_client)
    slug = await create_team(app_client, "Switch Test")
    owner_id = await user_id(pool, owner)
    member = await make_user(pool)
    from app.spaces import teams
    from app.spaces.store import team_by_slug

    async with pool.connection() as conn:
        team = await team_by_slug(conn, owner_id, slug)
        await teams.add_member(conn, team, member.id, "member", actor_id=owner_id)

    await log_in(app_client, member.email)
    assert await current_space(app_client) == "Personal"
    menu = await app_client.get("/spaces/menu")
    assert "Switch Test" in menu.text and "Personal" in menu.text
    switched = await post(app_client, "/spaces/switch", {"space": str(team.id)})
    assert switched.status_code == 303 and switched.headers["location"] == "/workflows"
    assert await current_space(app_client) == "Switch Test"

    # A space the person is not a member of is not found and changes nothing; nonsense neither (no 500).
    async with pool.connection() as conn:
        other = await teams.create_team(conn, name="Not yours", owner_id=owner_id)
    for value in (str(other.id), "999999999999", "-1", "abc", "9" * 40):
        assert (await post(app_client, "/spaces/switch", {"space": value})).status_code == 404
        assert await current_space(app_client) == "Switch Test"

    async with pool.connection() as conn:
        await teams.remove_member(conn, team, member.id, actor_id=owner_id)
    assert await current_space(app_client) == "Personal"
    menu = await app_client.get("/spaces/menu")
    assert "Switch Test" not in menu.text


async def test_an_invitation_is_mailed_used_once_and_grants_nothing_when_revoked_or_expired(
    app_client, pool
):
    owner = await sign_up(app_client)
    slug = await create_team(app_client, "Invites")
    invited = new_email("invited")
    sent = await post(
        app_client, f"/teams/{slug}/invitations", {"email": invited.upper(), "role": "viewer"}
    )
    assert sent.status_code == 303
    page = await app_client.get(f"/teams/{slug}")
    assert invited in page.text  # pending, listed for admins
    assert (
        await post(app_client, f"/teams/{slug}/invitations", {"email": "nope"})
    ).status_code == 422
    link = await invitation_link(pool, invited)

    # Someone else, signed in, cannot take it.
    await sign_up(app_client)
    shown = await app_client.get(link)
    assert shown.status_code == 410 and "another e-mail address" in shown.text
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert (await post(app_client, f"{link}/accept")).status_code == 410

    # The invited person signs up through the link (the address is the invitation's, whatever
    # the form says), lands in the team, working in it.
    app_client.cookies.clear()
    shown = await app_client.get(link)
    assert shown.status_code == 200 and invited in shown.text and "Sign up and join" in shown.text
    joined = await app_client.post(
        f"{link}/signup",
        data={
            "email": "someone-else@example.com",
            "password": "a long password",
            "_csrf_token": csrf_of(shown.text),
        },
    )
    assert joined.status_code == 303 and joined.headers["location"] == f"/teams/{slug}"
    assert await current_space(app_client) == "Invites"
    page = await app_client.get(f"/teams/{slug}")
    assert page.status_code == 200 and invited in page.text
    assert await find_user(pool, "someone-else@example.com") is None

    used = await app_client.get(link)
    assert used.status_code == 410 and "already been used" in used.text

    # Revoked and expired links say so and grant nothing.
    await log_in(app_client, owner)
    second, third = new_email("second"), new_email("third")
    await post(app_client, f"/teams/{slug}/invitations", {"email": second, "role": "member"})
    await post(app_client, f"/teams/{slug}/invitations", {"email": third, "role": "member"})
    revoked_link, expired_link = (
        await invitation_link(pool, second),
        await invitation_link(pool, third),
    )
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT id, email FROM space_invitations WHERE email = ANY(%s)", ([second, third],)
            )
        ).fetchall()
        ids = {r["email"]: r["id"] for r in rows}
        await conn.execute(
            "UPDATE space_invitations SET expires_at = now() - interval '1 second' WHERE id = %s",
            (ids[third],),
        )
    assert (
        await post(app_client, f"/teams/{slug}/invitations/{ids[second]}/revoke")
    ).status_code == 303
    assert (
        await post(app_client, f"/teams/{slug}/invitations/{ids[second]}/revoke")
    ).status_code == 404
    page = await app_client.get(f"/teams/{slug}")
    assert second not in page.text and third not in page.text

    for link_, email, words in (
        (revoked_link, second, "revoked"),
        (expired_link, third, "expired"),
    ):
        app_client.cookies.clear()
        shown = await app_client.get(link_)
        assert shown.status_code == 410 and words in shown.text
        signup = await app_client.post(
            f"{link_}/signup",
            data={
                "email": email,
                "password": "a long password",
                "_csrf_token": csrf_of(shown.text),
            },
        )
        assert signup.status_code == 410
        assert await find_user(pool, email) is None  # no account made, no membership granted
    assert (await app_client.get("/invitations/not-a-real-token")).status_code == 404

    async with pool.connection() as conn:
        actions = [
            r["action"]
            for r in await (
                await conn.execute(
                    "SELECT a.action FROM audit_log a JOIN spaces s ON s.id = a.space_id "
                    "WHERE s.slug = %s ORDER BY a.id",
                    (slug,),
                )
            ).fetchall()
        ]
    assert actions == [
        "team.change",
        "invitation.send",
        "member.add",
        "invitation.send",
        "invitation.send",
        "invitation.revoke",
    ]


async def test_a_signed_in_invitee_joins_with_the_link_and_a_second_click_is_answered(
    app_client, pool
):
    owner = await sign_up(app_client)
    slug = await create_team(app_client, "Join Existing")
    invitee = await make_user(pool)
    await post(app_client, f"/teams/{slug}/invitations", {"email": invitee.email, "role": "member"})
    link = await invitation_link(pool, invitee.email)

    await log_in(app_client, invitee.email)
    shown = await app_client.get(link)
    assert "Join Join Existing" in shown.text
    accepted = await post(app_client, f"{link}/accept")
    assert accepted.status_code == 303 and accepted.headers["location"] == f"/teams/{slug}"
    assert await current_space(app_client) == "Join Existing"
    again = await post(app_client, f"{link}/accept")
    assert again.status_code == 410 and "already been used" in again.text
    assert owner


async def test_the_owner_deletes_a_team_and_odd_input_is_answered_not_a_500(app_client, pool):
    owner = await sign_up(app_client)
    slug = await create_team(app_client, "Short Lived")
    owner_id = await user_id(pool, owner)
    from app.spaces import teams
    from app.spaces.store import team_by_slug

    admin = await make_user(pool)
    async with pool.connection() as conn:
        team = await team_by_slug(conn, owner_id, slug)
        await teams.add_member(conn, team, admin.id, "admin", actor_id=owner_id)

    for path, data in (
        (f"/teams/{slug}/members/{2**63}/role", {"role": "member"}),
        (f"/teams/{slug}/members/0/remove", {}),
        (f"/teams/{slug}/members/{2**70}/remove", {}),
        (f"/teams/{slug}/invitations/{2**63}/revoke", {}),
        (f"/teams/{slug}/rename", {"name": "bad\x00name"}),
        (f"/teams/{slug}/rename", {"name": "x" * 500}),
        (f"/teams/{slug}/invitations", {"email": "a\x00b@example.com", "role": "member"}),
        (f"/teams/{slug}/invitations", {"email": "a@example.com", "role": "owner"}),
        (f"/teams/{slug}/tier", {"tier": "gold\x00"}),
        ("/teams", {"name": "\x00"}),
        ("/teams/Bad%00Slug/leave", {}),
        ("/teams/" + "a" * 300 + "/leave", {}),
    ):
        response = await post(app_client, path, data)
        assert response.status_code in (303, 403, 404, 422), (path, response.status_code)
    for path in ("/teams/%00", "/teams/UPPER", "/invitations/%00", "/invitations/" + "a" * 500):
        assert (await app_client.get(path)).status_code == 404, path

    # An admin may not delete it; the owner must type its name.
    await log_in(app_client, admin.email)
    assert (
        await post(app_client, f"/teams/{slug}/delete", {"confirm": "Short Lived"})
    ).status_code == 403
    await log_in(app_client, owner)
    wrong = await post(app_client, f"/teams/{slug}/delete", {"confirm": "short lived"})
    assert wrong.status_code == 422 and "exactly" in wrong.text
    done = await post(app_client, f"/teams/{slug}/delete", {"confirm": "Short Lived"})
    assert done.status_code == 303 and done.headers["location"] == "/teams"
    assert (await app_client.get(f"/teams/{slug}")).status_code == 404
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT a.detail->>'change' AS change FROM audit_log a "
                "JOIN spaces s ON s.id = a.space_id AND s.personal_of = %s "
                "WHERE a.action = 'team.change' ORDER BY a.id DESC LIMIT 1",
                (owner_id,),
            )
        ).fetchone()
    assert row["change"] == "delete"


async def test_a_team_with_runs_under_way_is_not_deleted(pool):
    from app.spaces import teams
    from tests.support.engine import make_user as make_engine_user

    owner = await make_engine_user(pool)
    async with pool.connection() as conn:
        team = await teams.create_team(conn, name="Busy", owner_id=owner)
        await conn.execute(
            "INSERT INTO runs (owner_id, space_id, workflow, version, title, input, status) "
            "VALUES (%s, %s, 'noop', 1, 't', '{}', 'waiting')",
            (owner, team.id),
        )
        try:
            await teams.delete_team(conn, team, actor_id=owner)
        except teams.TeamError as exc:
            assert "under way" in str(exc)
        else:
            raise AssertionError("deleted a team with a waiting run")
        assert await (
            await conn.execute("SELECT id FROM spaces WHERE id = %s", (team.id,))
        ).fetchone()
