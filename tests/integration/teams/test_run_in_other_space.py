"""A link to a run of another of the reader's spaces (a mail, a colleague's message) says where the
run is and switches there to open it; to anyone who is not a member of that space it is not found."""

from __future__ import annotations

from app.engine import commands
from tests.support.teams import make_team, signed_in_user
from tests.support.web import csrf_of, log_in, make_user


async def test_a_run_of_another_of_my_spaces_offers_to_switch_there(pool, app_client):
    member = await signed_in_user(pool, app_client)
    owner = await make_user(pool, tier="enterprise")
    team = await make_team(pool, owner.id, {member.id: "member"})
    async with pool.connection() as conn:
        run, _ = await commands.start_run(
            conn, owner_id=owner.id, space_id=team["id"], workflow="selftest", input={"steps": 1}
        )
    url = f"/workflows/{run.id}"

    page = await app_client.get(url)  # the member works in their personal space
    assert page.status_code == 200
    assert f"This run is in {team['name']}" in page.text and run.title not in page.text
    switched = await app_client.post(
        "/spaces/switch",
        data={"_csrf_token": csrf_of(page.text), "space": str(team["id"]), "next": url},
    )
    assert switched.status_code == 303 and switched.headers["location"] == url
    opened = await app_client.get(url)
    assert opened.status_code == 200 and run.title in opened.text

    # Nowhere else than a local path, whatever `next` says.
    away = await app_client.post(
        "/spaces/switch",
        data={
            "_csrf_token": csrf_of(opened.text),
            "space": str(team["id"]),
            "next": "https://evil.example/",
        },
    )
    assert away.headers["location"] == "/"

    stranger = await make_user(pool, tier="enterprise")
    assert (await log_in(app_client, stranger.email)).status_code == 303
    assert (await app_client.get(url)).status_code == 404
