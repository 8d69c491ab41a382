"""Templates, schedules, triggers, connectors and API keys belong to a space (teams, #20).

Two members of one team see and use each other's team objects but not each other's personal ones;
a viewer reads and gets 403 on every change; a member of another team gets 404 (page, fragment,
API); a removed member's key stops working; a team's schedule fires, and a trigger delivery starts,
a run of the team; a run publishes only through a connector of its own space.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from litestar.testing import AsyncTestClient

import tests.integration.api.workflows  # noqa: F401  (registers test-api-echo)
from app.core.secrets_box import SecretBox
from app.schedules import store as schedules
from app.steps.publishers import connectors
from app.templates import store as templates
from app.web.auth import api_keys as keys
from tests.integration.api.workflows import VISIBLE
from tests.support.engine import make_user
from tests.support.web import log_in
from tests.support.web import make_user as make_account

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client(settings, database_url) -> AsyncIterator[AsyncTestClient]:
    from app.web.app import create_app

    async with AsyncTestClient(create_app(settings, database_url, run_worker=False)) as test_client:
        test_client.follow_redirects = False
        yield test_client


def _document(title: str) -> dict:
    """A template whose runs need no model (a worker of the session may run them to the end)."""
    return {
        "title": title,
        "inputs": [{"name": "topic", "label": "Topic", "kind": "long_text", "required": False}],
        "blocks": [
            {"id": "report", "kind": "document", "doc_title": "On {{ inputs.topic }}",
             "markdown": "About {{ inputs.topic }}."},
        ],
    }  # fmt: skip


@dataclass
class Member:
    user_id: int
    team_key: dict  # API headers of a key in the team
    own_key: dict  # API headers of a key in the personal space


@dataclass
class Team:
    id: int
    slug: str
    a: Member  # member
    b: Member  # member
    viewer: Member
    admin: Member
    outsider: Member  # a member of another team, with a key there


async def _team(pool, *, tier: str = "enterprise") -> tuple[int, str]:
    slug = f"t-{secrets.token_hex(5)}"
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "INSERT INTO spaces (kind, name, slug, tier) VALUES ('team', %s, %s, %s) RETURNING id",
                (f"Team {slug}", slug, tier),
            )
        ).fetchone()
    return row["id"], slug


async def _join(pool, space_id: int, user_id: int, role: str) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO space_members (space_id, user_id, role) VALUES (%s, %s, %s)",
            (space_id, user_id, role),
        )


async def _member(pool, space_id: int, role: str) -> Member:
    user_id = await make_user(pool)
    await _join(pool, space_id, user_id, role)
    async with pool.connection() as conn:
        team_key, _ = await keys.create_key(conn, user_id, "team", space_id=space_id)
        own_key, _ = await keys.create_key(conn, user_id, "own")
    return Member(
        user_id, {"Authorization": f"Bearer {team_key}"}, {"Authorization": f"Bearer {own_key}"}
    )


@pytest.fixture
async def team(pool) -> Team:
    space_id, slug = await _team(pool)
    other_id, _ = await _team(pool)
    return Team(
        space_id,
        slug,
        await _member(pool, space_id, "member"),
        await _member(pool, space_id, "member"),
        await _member(pool, space_id, "viewer"),
        await _member(pool, space_id, "admin"),
        await _member(pool, other_id, "member"),
    )


async def _space_of_run(pool, run_id) -> int:
    async with pool.connection() as conn:
        return (
            await (
                await conn.execute("SELECT space_id FROM runs WHERE id = %s", (run_id,))
            ).fetchone()
        )["space_id"]


async def _audited(pool, space_id: int, action: str) -> int:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) AS n FROM audit_log WHERE space_id = %s AND action = %s",
                (space_id, action),
            )
        ).fetchone()
    return row["n"]


# -- templates ---------------------------------------------------------------------------------


async def test_team_templates_are_shared_by_members_and_read_only_to_viewers(client, pool, team):
    slug = f"team-report-{secrets.token_hex(3)}"
    made = await client.post(
        "/api/v1/templates",
        headers=team.a.team_key,
        json={"document": _document("Team report"), "slug": slug},
    )
    assert made.status_code == 201, made.text
    own = await client.post(
        "/api/v1/templates",
        headers=team.a.own_key,
        json={"document": _document("A's own"), "slug": f"a-own-{secrets.token_hex(3)}"},
    )
    assert own.status_code == 201, own.text

    listed = (await client.get("/api/v1/templates", headers=team.b.team_key)).json()
    mine = {t["slug"] for t in listed["mine"]}
    assert slug in mine and own.json()["slug"] not in mine
    assert all(t["slug"] != own.json()["slug"] for group in listed.values() for t in group)
    assert (
        await client.get(f"/api/v1/templates/{own.json()['slug']}", headers=team.b.team_key)
    ).status_code == 404
    # B (a member) saves a new version of A's team template and runs it: the run is the team's.
    saved = await client.post(
        f"/api/v1/templates/{slug}/versions",
        headers=team.b.team_key,
        json={"document": _document("Team report v2")},
    )
    assert saved.status_code == 201 and saved.json()["version"] == 2, saved.text
    ran = await client.post(
        f"/api/v1/templates/{slug}/runs", headers=team.b.team_key, json={"input": {"topic": "x"}}
    )
    assert ran.status_code == 201, ran.text
    assert await _space_of_run(pool, ran.json()["id"]) == team.id
    assert await _audited(pool, team.id, "template.save") >= 2

    # The viewer reads, but changes and runs nothing.
    assert (
        await client.get(f"/api/v1/templates/{slug}", headers=team.viewer.team_key)
    ).status_code == 200
    refused = await client.post(
        f"/api/v1/templates/{slug}/versions",
        headers=team.viewer.team_key,
        json={"document": _document("Viewer's")},
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert (
        await client.post(
            f"/api/v1/templates/{slug}/runs", headers=team.viewer.team_key, json={"input": {}}
        )
    ).status_code == 403
    assert (
        await client.post(
            "/api/v1/templates",
            headers=team.viewer.team_key,
            json={"document": _document("Viewer's new")},
        )
    ).status_code == 403
    # Another team's member: not found, everywhere.
    for path in (f"/api/v1/templates/{slug}", f"/api/v1/templates/{slug}/versions"):
        assert (await client.get(path, headers=team.outsider.team_key)).status_code == 404
    assert (
        await client.post(
            f"/api/v1/templates/{slug}/runs", headers=team.outsider.team_key, json={"input": {}}
        )
    ).status_code == 404


async def _web_session(client, pool, user_id: int, space_id: int | None) -> None:
    """Sign `user_id` in on the client (a password account is made for them) in `space_id`."""
    email = f"w-{secrets.token_hex(5)}@example.test"
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET email = %s WHERE id = %s", (email, user_id))
    from app.web.auth.passwords import hash_password
    from tests.support.web import PASSWORD

    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE users SET password_hash = %s WHERE id = %s",
            (await hash_password(PASSWORD), user_id),
        )
    response = await log_in(client, email)
    assert response.status_code == 303, response.text
    if space_id is not None:
        async with pool.connection() as conn:
            await conn.execute(
                "UPDATE sessions SET space_id = %s WHERE user_id = %s", (space_id, user_id)
            )


async def _csrf(client, path: str) -> dict:
    from tests.support.web import csrf_of

    return {"X-CSRF-Token": csrf_of((await client.get(path)).text), "HX-Request": "true"}


async def test_builder_pages_scope_templates_to_the_current_space(client, pool, team):
    async with pool.connection() as conn:
        shared = await templates.create_template(
            conn, owner_id=team.a.user_id, document=_document("Shared"), space_id=team.id
        )
        personal = await templates.create_template(
            conn, owner_id=team.a.user_id, document=_document("Personal of A")
        )
    await _web_session(client, pool, team.b.user_id, team.id)
    listing = await client.get("/templates")
    assert "Shared" in listing.text and "Personal of A" not in listing.text
    assert (await client.get(f"/templates/{shared['id']}")).status_code == 200
    assert (await client.get(f"/templates/{personal['id']}")).status_code == 404
    # "Use" copies the gallery's or a visible template into the current space.
    headers = await _csrf(client, "/templates")
    used = await client.post(f"/templates/{shared['id']}/use", headers=headers)
    assert used.status_code in (200, 303), used.text
    async with pool.connection() as conn:
        copies = await (
            await conn.execute(
                "SELECT space_id, owner_id FROM templates WHERE copied_from = %s", (shared["id"],)
            )
        ).fetchall()
    assert copies == [{"space_id": team.id, "owner_id": team.b.user_id}]
    shared_link = await client.post(
        f"/templates/{shared['id']}/sharing", headers=headers, data={"visibility": "link"}
    )
    assert shared_link.status_code in (200, 303), shared_link.text
    assert await _audited(pool, team.id, "template.share") == 1

    await _web_session(client, pool, team.viewer.user_id, team.id)
    read = await client.get(f"/templates/{shared['id']}")
    assert read.status_code == 200 and "read-only" in read.text and "/use" not in read.text
    assert (await client.get("/templates/new")).status_code == 403
    headers = await _csrf(client, "/templates")
    for path in (
        f"/templates/{shared['id']}/check",
        f"/templates/{shared['id']}/edit",
        f"/templates/{shared['id']}/sharing",
        f"/templates/{shared['id']}/use",
        f"/templates/{shared['id']}/run",
    ):
        response = await client.post(
            path, headers=headers, data={"visibility": "link", "op": "save"}
        )
        assert response.status_code == 403, (path, response.status_code)

    await _web_session(client, pool, team.outsider.user_id, None)
    for path in (f"/templates/{shared['id']}", f"/templates/{shared['id']}/run"):
        assert (await client.get(path)).status_code == 404, path


# -- schedules ---------------------------------------------------------------------------------


async def test_team_schedules_fire_runs_of_the_team_and_viewers_only_read(client, pool, team):
    created = await client.post(
        "/api/v1/schedules",
        headers=team.a.team_key,
        json={"workflow": VISIBLE, "input": {"topic": "team"}, "every": "1d", "name": "Team"},
    )
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]
    own = await client.post(
        "/api/v1/schedules",
        headers=team.a.own_key,
        json={"workflow": VISIBLE, "input": {"topic": "own"}, "every": "1d", "name": "Own"},
    )
    listed = (await client.get("/api/v1/schedules", headers=team.b.team_key)).json()["schedules"]
    assert [s["id"] for s in listed] == [schedule_id]
    assert (
        await client.get(f"/api/v1/schedules/{own.json()['id']}", headers=team.b.team_key)
    ).status_code == 404
    # B pauses, resumes and runs A's team schedule; the run is the team's.
    paused = await client.post(
        f"/api/v1/schedules/{schedule_id}/pause", headers=team.b.team_key, json={}
    )
    assert paused.status_code == 200, paused.text
    assert (
        await client.post(f"/api/v1/schedules/{schedule_id}/resume", headers=team.b.team_key)
    ).status_code == 200
    fired = await client.post(f"/api/v1/schedules/{schedule_id}/trigger", headers=team.b.team_key)
    assert fired.status_code == 201, fired.text
    assert await _space_of_run(pool, fired.json()["run_id"]) == team.id
    assert await _audited(pool, team.id, "schedule.create") == 1
    assert await _audited(pool, team.id, "schedule.pause") == 2

    # A viewer reads; every change is a 403.
    assert (
        await client.get(f"/api/v1/schedules/{schedule_id}", headers=team.viewer.team_key)
    ).status_code == 200
    for method, path, body in (
        ("post", f"/api/v1/schedules/{schedule_id}/pause", {}),
        ("post", f"/api/v1/schedules/{schedule_id}/resume", None),
        ("post", f"/api/v1/schedules/{schedule_id}/trigger", None),
        (
            "patch",
            f"/api/v1/schedules/{schedule_id}",
            {"workflow": VISIBLE, "input": {"topic": "x"}, "every": "2d", "name": "Team"},
        ),
        ("delete", f"/api/v1/schedules/{schedule_id}", None),
        ("post", "/api/v1/schedules", {"workflow": VISIBLE, "input": {}, "every": "1d"}),
    ):
        kwargs = {"json": body} if body is not None else {}
        response = await getattr(client, method)(path, headers=team.viewer.team_key, **kwargs)
        assert response.status_code == 403, (method, path, response.text)
    # Another team: 404 on the API, the page and its fragment.
    assert (
        await client.get(f"/api/v1/schedules/{schedule_id}", headers=team.outsider.team_key)
    ).status_code == 404
    await _web_session(client, pool, team.outsider.user_id, None)
    for path in (f"/schedules/{schedule_id}", f"/schedules/{schedule_id}?fragment=fires"):
        assert (await client.get(path)).status_code == 404, path
    await _web_session(client, pool, team.viewer.user_id, team.id)
    assert (await client.get(f"/schedules/{schedule_id}")).status_code == 200
    headers = await _csrf(client, "/schedules")
    for action in ("pause", "resume", "trigger", "delete"):
        response = await client.post(f"/schedules/{schedule_id}/{action}", headers=headers)
        assert response.status_code == 403, (action, response.status_code)


async def test_a_fire_of_a_removed_owner_is_skipped_with_the_reason(client, pool, team):
    async with pool.connection() as conn:
        from app.schedules.drafts import check_draft

        draft = check_draft(
            name="Left",
            workflow=VISIBLE,
            input={"topic": "x"},
            cron=None,
            every="1d",
            time_zone="UTC",
            default_zone="UTC",
            overlap="allow-all",
        )
        row = await schedules.create_schedule(conn, team.a.user_id, draft, space_id=team.id)
        await conn.execute(
            "DELETE FROM space_members WHERE space_id = %s AND user_id = %s",
            (team.id, team.a.user_id),
        )
        with pytest.raises(Exception, match="no access"):
            await schedules.trigger_schedule(conn, row["id"], None)
        fires = await schedules.recent_fires(conn, row["id"])
    assert [f["outcome"] for f in fires] == ["skipped: no access"]
    assert "no longer" in fires[0]["detail"]
    await _web_session(client, pool, team.b.user_id, team.id)
    page = await client.get(f"/schedules/{row['id']}")
    assert page.status_code == 200 and "no longer a member" in page.text
    # The removed member's team key stops working; their personal one still works.
    assert (await client.get("/api/v1/schedules", headers=team.a.team_key)).status_code == 401
    assert (await client.get("/api/v1/schedules", headers=team.a.own_key)).status_code == 200


# -- triggers ----------------------------------------------------------------------------------


async def test_a_team_trigger_starts_its_runs_in_the_team(client, pool, team):
    async with pool.connection() as conn:
        template = await templates.create_template(
            conn, owner_id=team.a.user_id, document=_document("Triggered"), space_id=team.id
        )
    made = await client.post(
        "/api/v1/triggers",
        headers=team.a.team_key,
        json={"name": "CMS", "template_id": template["id"], "auth_mode": "bearer"},
    )
    assert made.status_code == 201, made.text
    trigger = made.json()
    listed = (await client.get("/api/v1/triggers", headers=team.b.team_key)).json()["triggers"]
    assert [t["id"] for t in listed] == [trigger["id"]]
    assert (await client.get("/api/v1/triggers", headers=team.a.own_key)).json()["triggers"] == []
    delivered = await client.post(
        f"/hooks/t/{trigger['id']}",
        content=b'{"topic": "from the CMS"}',
        headers=JSON | {"Authorization": f"Bearer {trigger['secret']}"},
    )
    assert delivered.status_code == 202, delivered.text
    assert await _space_of_run(pool, delivered.json()["run_id"]) == team.id
    assert await _audited(pool, team.id, "trigger.create") == 1

    for method, path in (
        ("post", f"/api/v1/triggers/{trigger['id']}/disable"),
        ("post", f"/api/v1/triggers/{trigger['id']}/rotate"),
        ("delete", f"/api/v1/triggers/{trigger['id']}"),
    ):
        kwargs = {"json": {}} if path.endswith("rotate") else {}
        response = await getattr(client, method)(path, headers=team.viewer.team_key, **kwargs)
        assert response.status_code == 403, (path, response.text)
    assert (
        await client.get(f"/api/v1/triggers/{trigger['id']}", headers=team.viewer.team_key)
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/triggers/{trigger['id']}", headers=team.outsider.team_key)
    ).status_code == 404
    await _web_session(client, pool, team.outsider.user_id, None)
    for path in (f"/triggers/{trigger['id']}", f"/triggers/{trigger['id']}/deliveries"):
        assert (await client.get(path)).status_code == 404, path
    await _web_session(client, pool, team.viewer.user_id, team.id)
    assert (await client.get(f"/triggers/{trigger['id']}")).status_code == 200
    headers = await _csrf(client, "/triggers")
    for action in ("disable", "rotate", "delete"):
        response = await client.post(f"/triggers/{trigger['id']}/{action}", headers=headers)
        assert response.status_code == 403, (action, response.status_code)
    # B, a member, deletes it: it is gone for everyone in the team.
    assert (
        await client.delete(f"/api/v1/triggers/{trigger['id']}", headers=team.b.team_key)
    ).status_code == 204
    assert await _audited(pool, team.id, "trigger.delete") == 1


# -- connectors --------------------------------------------------------------------------------


async def test_connectors_are_changed_by_admins_and_used_only_in_their_space(
    client, pool, team, settings
):
    box = SecretBox.from_settings(settings)
    form = connectors.ConnectorForm(kind="webhook", name="blog", url="https://blog.example.test/in")
    async with pool.connection() as conn:
        row, _ = await connectors.create_connector(
            conn, box, team.admin.user_id, form, space_id=team.id
        )
        assert row is not None
        # The same name in a personal space is another connector.
        own, _ = await connectors.create_connector(conn, box, team.a.user_id, form)
        assert own is not None and own["id"] != row["id"]
    await _web_session(client, pool, team.b.user_id, team.id)
    page = await client.get("/settings/connectors")
    assert page.status_code == 200 and "blog.example.test" in page.text
    headers = await _csrf(client, "/settings/connectors")
    for path in (
        "/settings/connectors",
        f"/settings/connectors/{row['id']}/check",
        f"/settings/connectors/{row['id']}/delete",
    ):
        response = await client.post(
            path, headers=headers, data={"kind": "webhook", "name": "x", "url": "https://x.test"}
        )
        assert response.status_code == 403, (path, response.status_code)
    await _web_session(client, pool, team.outsider.user_id, None)
    headers = await _csrf(client, "/settings/connectors")
    response = await client.post(f"/settings/connectors/{row['id']}/delete", headers=headers)
    assert response.status_code == 404

    # A run finds only its own space's connector.
    from app.engine.commands import start_run

    async with pool.connection() as conn:
        team_run, _ = await start_run(
            conn, owner_id=team.b.user_id, workflow=VISIBLE, input={"topic": "t"}, space_id=team.id
        )
        personal_run, _ = await start_run(
            conn, owner_id=team.b.user_id, workflow=VISIBLE, input={"topic": "p"}
        )
        found = await connectors.find_connector(conn, team.b.user_id, "blog", run_id=team_run.id)
        assert found and found["id"] == row["id"]
        assert (
            await connectors.find_connector(conn, team.b.user_id, "blog", run_id=personal_run.id)
            is None
        )
        assert (
            await connectors.load_connector(
                conn, box, team.b.user_id, row["id"], run_id=personal_run.id
            )
            is None
        )
        # A's own "blog" is not the team's, even for A's runs in the team.
        assert (
            await connectors.load_connector(
                conn, box, team.a.user_id, own["id"], run_id=team_run.id
            )
            is None
        )
        # Templates are checked against their space's connectors.
        publishing = _document("Publishes") | {
            "blocks": [
                {
                    "kind": "send",
                    "id": "post",
                    "channel": "publish",
                    "connector": "blog",
                    "body": "hello",
                }
            ]
        }
        # B has no "blog" of their own: refused in B's personal space, accepted in the team.
        with pytest.raises(templates.TemplateInvalid) as refused:
            await templates.create_template(conn, owner_id=team.b.user_id, document=publishing)
        assert [p.path for p in refused.value.problems] == ["blocks.0.connector"]
        saved = await templates.create_template(
            conn, owner_id=team.b.user_id, document=publishing, space_id=team.id
        )
        assert saved["space_id"] == team.id
    assert await _audited(pool, team.id, "connector.change") == 1


# -- API keys ----------------------------------------------------------------------------------


async def test_api_keys_are_made_and_listed_per_space(client, pool, team):
    user = await make_account(pool)
    await _join(pool, team.id, user.id, "viewer")
    await _web_session(client, pool, user.id, team.id)
    page = await client.get("/settings/api-keys")
    assert page.status_code == 200 and f"Team {team.slug}" in page.text
    headers = await _csrf(client, "/settings/api-keys")
    made = await client.post("/settings/api-keys", headers=headers, data={"name": "team ci"})
    assert made.status_code == 200, made.text
    async with pool.connection() as conn:
        rows = await (
            await conn.execute("SELECT id, space_id FROM api_keys WHERE user_id = %s", (user.id,))
        ).fetchall()
        assert [r["space_id"] for r in rows] == [team.id]
        assert await keys.list_keys(conn, user.id) == []
        assert not await keys.revoke_key(conn, user.id, rows[0]["id"])  # not in personal
        assert len(await keys.list_keys(conn, user.id, space_id=team.id)) == 1
    # The viewer's key reads the team's schedules, and stops when they are removed.
    key = made.text.split('readonly value="')[1].split('"')[0]
    assert (
        await client.get("/api/v1/schedules", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 200
    async with pool.connection() as conn:
        await conn.execute(
            "DELETE FROM space_members WHERE space_id = %s AND user_id = %s",
            (team.id, user.id),
        )
    assert (
        await client.get("/api/v1/schedules", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 401


# -- the CLI's --team --------------------------------------------------------------------------


async def test_the_cli_acts_in_the_team_named_by_team(database_url, tmp_path, pool, team):
    from tests.integration.engine.test_cli_runs import baton

    email = f"cli-{secrets.token_hex(5)}@example.test"
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET email = %s WHERE id = %s", (email, team.a.user_id))
    path = tmp_path / "team.json"
    path.write_text(json.dumps(_document("CLI team report")))
    slug = f"cli-team-{secrets.token_hex(3)}"
    imported = await baton(
        database_url, tmp_path, "templates", "import", str(path), "--as", email, "--team",
        team.slug, "--slug", slug,
    )  # fmt: skip
    assert imported.returncode == 0 and imported.stdout.strip() == slug, imported.stderr
    listed = await baton(
        database_url, tmp_path, "templates", "list", "--as", email, "--team", team.slug, "--json"
    )
    assert slug in {t["slug"] for t in json.loads(listed.stdout)}
    exported = await baton(
        database_url, tmp_path, "templates", "export", slug, "--as", email, "--team", team.slug
    )
    assert json.loads(exported.stdout)["title"] == "CLI team report", exported.stderr
    personal = await baton(database_url, tmp_path, "templates", "list", "--as", email, "--json")
    assert slug not in {t["slug"] for t in json.loads(personal.stdout)}
    ran = await baton(
        database_url, tmp_path, "templates", "run", slug, "--as", email, "--team", team.slug,
        "--input", '{"topic": "from the CLI"}',
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert await _space_of_run(pool, ran.stdout.strip()) == team.id

    created = await baton(
        database_url, tmp_path, "schedules", "create", "--as", email, "--team", team.slug,
        "--workflow", "content-generation", "--every", "1d", "--input", '{"prompt": "digest"}',
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT space_id FROM schedules WHERE id = %s", (created.stdout.strip(),)
            )
        ).fetchone()
    assert row["space_id"] == team.id

    key = await baton(database_url, tmp_path, "apikey", "create", email, "--team", team.slug)
    assert key.returncode == 0 and team.slug in key.stdout, key.stderr
    async with pool.connection() as conn:
        spaces = await (
            await conn.execute(
                "SELECT space_id FROM api_keys WHERE user_id = %s AND name = 'CLI'",
                (team.a.user_id,),
            )
        ).fetchall()
    assert [r["space_id"] for r in spaces] == [team.id]

    for args in (
        ("templates", "list", "--as", email, "--team", "no-such-team"),
        ("schedules", "list", "--as", email, "--team", "no-such-team"),
        ("apikey", "list", email, "--team", "no-such-team"),
    ):
        refused = await baton(database_url, tmp_path, *args)
        assert refused.returncode == 2 and "no team no-such-team" in refused.stderr, args


async def test_a_due_fire_of_a_team_schedule_runs_in_the_team(pool, team):
    from app.schedules import firing
    from app.schedules.drafts import check_draft

    draft = check_draft(
        name="Due",
        workflow=VISIBLE,
        input={"topic": "due"},
        cron=None,
        every="1h",
        time_zone="UTC",
        default_zone="UTC",
        overlap="allow-all",
    )
    async with pool.connection() as conn:
        row = await schedules.create_schedule(conn, team.b.user_id, draft, space_id=team.id)
        async with conn.transaction():
            await conn.execute(
                "UPDATE schedules SET next_fire_at = now() - interval '1 second',"
                " anchor_at = now() - interval '1 hour 1 second' WHERE id = %s",
                (row["id"],),
            )
            due = await (await conn.execute(firing.LOCK_SCHEDULE, {"id": row["id"]})).fetchone()
            fired = await firing.fire_due_schedule(conn, due)
    assert [f.outcome for f in fired] == ["started"]
    assert await _space_of_run(pool, fired[0].run.id) == team.id


async def test_a_delivery_to_a_removed_owners_trigger_is_refused(client, pool, team):
    async with pool.connection() as conn:
        template = await templates.create_template(
            conn, owner_id=team.b.user_id, document=_document("Still here"), space_id=team.id
        )
    made = await client.post(
        "/api/v1/triggers",
        headers=team.a.team_key,
        json={"name": "Left", "template_id": template["id"], "auth_mode": "bearer"},
    )
    assert made.status_code == 201, made.text
    trigger = made.json()
    async with pool.connection() as conn:
        await conn.execute(
            "DELETE FROM space_members WHERE space_id = %s AND user_id = %s",
            (team.id, team.a.user_id),
        )
    delivered = await client.post(
        f"/hooks/t/{trigger['id']}",
        content=b'{"topic": "after"}',
        headers=JSON | {"Authorization": f"Bearer {trigger['secret']}"},
    )
    assert delivered.status_code == 403, delivered.text
    assert delivered.json()["error"]["code"] == "forbidden"
