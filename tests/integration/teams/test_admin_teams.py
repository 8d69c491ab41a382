"""The instance admin's teams page, /admin/teams (docs/teams.md, "Administering teams"): every team
with its members, plan and runs this month, found by name; an admin changes a team's plan without
being a member, and the change is in the team's audit log. Anyone else gets 403, as on every admin
page; a team that does not exist is 404."""

from __future__ import annotations

import re

from app.engine import commands
from tests.support.teams import make_team
from tests.support.web import htmx, log_in, make_user, new_email, token


def row_of(html: str, team_id: int) -> str:
    found = re.search(rf'<tr id="team-{team_id}">(.*?)</tr>', html, re.S)
    assert found, f"team {team_id} is not listed"
    return found.group(1)


def cell(row: str, label: str) -> str:
    return re.search(rf'data-label="{label}">(.*?)</td>', row, re.S).group(1).strip()


async def test_an_admin_lists_every_team_and_changes_a_plan_audited(app_client, pool):
    owner, member, admin = (
        await make_user(pool, tier="enterprise"),
        await make_user(pool),
        await make_user(pool, new_email("admin"), is_admin=True),
    )
    marker = new_email("team").split("@")[0]
    team = await make_team(pool, owner.id, {member.id: "viewer"}, tier="free", name=marker)
    async with pool.connection() as conn:
        for _ in range(2):
            await commands.start_run(
                conn, owner_id=owner.id, space_id=team["id"], workflow="selftest", input={}
            )

    await log_in(app_client, admin.email)
    page = await app_client.get("/admin/teams", params={"q": marker.upper()})
    assert page.status_code == 200 and 'aria-current="page">Teams</a>' in page.text
    row = row_of(page.text, team["id"])
    assert marker in row and f"/{team['slug']}" in row
    assert (cell(row, "Members"), cell(row, "Runs this month")) == ("2", "2")
    assert re.search(r'<option value="free" selected>', row)
    assert "No team matches" in (await app_client.get("/admin/teams?q=%_none_%")).text

    csrf = await token(app_client, "/admin/teams")
    changed = await app_client.post(
        f"/admin/teams/{team['id']}/tier", data={"tier": "premium"}, headers=htmx(csrf)
    )
    assert changed.status_code == 200 and "Saved." in changed.text
    assert re.search(r'<option value="premium" selected>', changed.text)
    bad = await app_client.post(
        f"/admin/teams/{team['id']}/tier", data={"tier": "platinum"}, headers=htmx(csrf)
    )
    assert bad.status_code == 422 and "Choose one of" in bad.text
    plain = await app_client.post(
        f"/admin/teams/{team['id']}/tier", data={"tier": "enterprise", "_csrf_token": csrf}
    )
    assert plain.status_code == 303 and plain.headers["location"] == "/admin/teams"
    missing = await app_client.post(
        "/admin/teams/999999999999/tier", data={"tier": "free"}, headers=htmx(csrf)
    )
    assert missing.status_code == 404

    async with pool.connection() as conn:
        tier = await (
            await conn.execute("SELECT tier FROM spaces WHERE id = %s", (team["id"],))
        ).fetchone()
        log = await (
            await conn.execute(
                "SELECT actor_email, detail FROM audit_log WHERE space_id = %s "
                "AND action = 'team.change' ORDER BY id",
                (team["id"],),
            )
        ).fetchall()
    assert tier["tier"] == "enterprise"
    assert [(e["actor_email"], e["detail"]["from"], e["detail"]["to"]) for e in log] == [
        (admin.email, "free", "premium"),
        (admin.email, "premium", "enterprise"),
    ]
    # The team's owner reads the admin's change in the team's audit log.
    await log_in(app_client, owner.email)
    audit = await app_client.get(f"/audit?team={team['slug']}")
    assert audit.status_code == 200 and admin.email in audit.text


async def test_someone_not_an_instance_admin_gets_403_and_changes_nothing(app_client, pool):
    owner = await make_user(pool, tier="enterprise")
    team = await make_team(pool, owner.id, tier="free")
    await log_in(app_client, owner.email)  # the team's own owner, not the instance's admin
    assert (await app_client.get("/admin/teams")).status_code == 403
    csrf = await token(app_client, "/teams")
    refused = await app_client.post(
        f"/admin/teams/{team['id']}/tier", data={"tier": "enterprise"}, headers=htmx(csrf)
    )
    assert refused.status_code == 403
    app_client.cookies.clear()
    assert (await app_client.get("/admin/teams")).status_code in (302, 303)  # to the login page
    async with pool.connection() as conn:
        tier = await (
            await conn.execute("SELECT tier FROM spaces WHERE id = %s", (team["id"],))
        ).fetchone()
    assert tier["tier"] == "free"
