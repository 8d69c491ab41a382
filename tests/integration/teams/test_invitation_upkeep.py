"""Invitations kept tidy (docs/teams.md, "Invitations"): inviting an address again replaces its
pending link (the old one then says so and grants nothing), and the hourly retention job deletes
invitations that ended (used, revoked, expired) longer ago than the retention setting."""

from __future__ import annotations

from types import SimpleNamespace

from app.engine.tasks import periodic_retention
from app.spaces.invitations import token_hash
from tests.integration.teams.test_team_pages import create_team, invitation_link, post
from tests.support.web import csrf_of, new_email, sign_up


async def test_inviting_an_address_again_replaces_its_pending_link(app_client, pool):
    await sign_up(app_client)
    slug = await create_team(app_client, "Re-invites")
    invited = new_email("again")
    await post(app_client, f"/teams/{slug}/invitations", {"email": invited, "role": "viewer"})
    first = await invitation_link(pool, invited)
    again = await post(
        app_client, f"/teams/{slug}/invitations", {"email": invited, "role": "member"}
    )
    assert again.status_code == 303
    second = await invitation_link(pool, invited)
    assert second != first

    page = await app_client.get(f"/teams/{slug}")
    # One pending invitation listed: the new one.
    assert page.text.count('<tr id="invitation-') == 1 and invited in page.text

    app_client.cookies.clear()
    old = await app_client.get(first)
    assert old.status_code == 410
    assert "replaced by a newer one" in old.text and "Sign up and join" not in old.text
    new = await app_client.get(second)
    assert new.status_code == 200 and "member" in new.text
    joined = await app_client.post(
        f"{second}/signup",
        data={"email": invited, "password": "a long password", "_csrf_token": csrf_of(new.text)},
    )
    assert joined.status_code == 303 and joined.headers["location"] == f"/teams/{slug}"
    async with pool.connection() as conn:
        role = await (
            await conn.execute(
                "SELECT m.role FROM space_members m JOIN users u ON u.id = m.user_id "
                "JOIN spaces s ON s.id = m.space_id WHERE s.slug = %s AND u.email = %s",
                (slug, invited),
            )
        ).fetchone()
        assert role["role"] == "member"  # the newer invitation's role
        sends = await (
            await conn.execute(
                "SELECT a.detail FROM audit_log a JOIN spaces s ON s.id = a.space_id "
                "WHERE s.slug = %s AND a.action = 'invitation.send' ORDER BY a.id",
                (slug,),
            )
        ).fetchall()
        old_row = await (
            await conn.execute(
                "SELECT id FROM space_invitations WHERE token_hash = %s",
                (token_hash(first.rsplit("/", 1)[1]),),
            )
        ).fetchone()
    assert "replaces" not in sends[0]["detail"]
    assert sends[1]["detail"]["replaces"] == [old_row["id"]]


async def test_the_retention_job_deletes_invitations_that_ended_long_ago(app_client, pool):
    await sign_up(app_client)
    slug = await create_team(app_client, "Old invites")
    names = ("used", "revoked", "expired", "recently_expired", "pending")
    links = {}
    for name in names:
        email = new_email(name.replace("_", "-"))
        await post(app_client, f"/teams/{slug}/invitations", {"email": email, "role": "member"})
        links[name] = await invitation_link(pool, email)
    ended_long_ago = {
        "used": "accepted_at = now() - interval '100 days', expires_at = now() - interval '93 days'",
        "revoked": "revoked_at = now() - interval '95 days', expires_at = now() - interval '90 days'",
        "expired": "expires_at = now() - interval '91 days'",
        "recently_expired": "expires_at = now() - interval '10 days'",
    }
    async with pool.connection() as conn:
        for name, change in ended_long_ago.items():
            await conn.execute(
                f"UPDATE space_invitations SET {change} WHERE token_hash = %s",  # noqa: S608 (test's own text)
                (token_hash(links[name].rsplit("/", 1)[1]),),
            )

    # The hourly job, as the worker runs it (BATON_RETENTION_DAYS: the default, 90 days).
    await periodic_retention.func(
        SimpleNamespace(app=SimpleNamespace(connector=SimpleNamespace(pool=pool))), 0
    )

    app_client.cookies.clear()
    said = {name: await app_client.get(links[name]) for name in names}
    for name in ("used", "revoked", "expired"):
        assert said[name].status_code == 404 and "not valid" in said[name].text, name
    assert (
        said["recently_expired"].status_code == 410 and "expired" in said["recently_expired"].text
    )
    assert said["pending"].status_code == 200
