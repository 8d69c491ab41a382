"""Issue 20, the holes left after the teams work: a saved template started from the chat (slash
command, model proposal, picker) while a team is the current space runs in the team; the code
review, publishing, builder and approvals pages find a colleague's team run; every way to decide a
hook (web, API, CLI) applies the same assignment rules; bulk replay selects the space's runs; a
role assignment in a personal space is refused at save time."""

from __future__ import annotations

import json

from app.templates import store as templates
from app.templates.starters import SHIPPED
from tests.support.team_runs import add_member, make_team, use_space
from tests.support.web import htmx, log_in, make_user, new_email


def _document(title: str) -> dict:
    document = json.loads((SHIPPED / "reviewed-report.json").read_text())
    return document | {"title": title}


async def _team_template(pool, owner_id: int, team: int, title: str) -> dict:
    async with pool.connection() as conn:
        return await templates.create_template(
            conn, owner_id=owner_id, document=_document(title), space_id=team
        )


async def _as(client, pool, user, space_id: int) -> None:
    assert (await log_in(client, user.email)).status_code == 303
    await use_space(pool, user.id, space_id)


async def _run_of_chat(pool, conversation_id: int) -> dict:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT id, space_id, owner_id, template_id FROM runs WHERE chat_id = %s",
                (conversation_id,),
            )
        ).fetchone()


async def test_a_team_template_started_by_its_slash_command_runs_in_the_team(app_client, pool):
    alice = await make_user(pool, new_email("slash"), tier="enterprise")
    team, _ = await make_team(pool, alice.id)
    template = await _team_template(pool, alice.id, team, "Team notes")
    await _as(app_client, pool, alice, team)
    page = await app_client.get("/chat")
    from tests.support.web import csrf_of

    csrf = csrf_of(page.text)
    response = await app_client.post(
        "/chat", data={"content": f"/{template['slug']} otters", "_csrf_token": csrf}
    )
    assert response.status_code == 303, response.text
    run = await _run_of_chat(pool, int(response.headers["location"].rsplit("/", 1)[1]))
    assert run is not None, "the team's template was not found from the team"
    assert run["template_id"] == template["id"] and run["space_id"] == team

    picker = await app_client.get("/chat/workflows/")
    assert picker.status_code == 200 and "Team notes" in picker.text


async def test_a_team_template_proposed_by_the_model_runs_in_the_team(app_client, pool, model):
    from tests.support.model_server import Call, ToolCalls
    from tests.support.web import csrf_of, parse_sse, start_chat

    alice = await make_user(pool, new_email("prop"), tier="enterprise")
    team, _ = await make_team(pool, alice.id)
    template = await _team_template(pool, alice.id, team, "Team otters")
    await _as(app_client, pool, alice, team)
    csrf = csrf_of((await app_client.get("/chat")).text)
    model.script(
        ToolCalls(
            [
                Call(
                    "propose_workflow",
                    {
                        "workflow": f"template:{template['slug']}",
                        "input": {"topic": "otters"},
                        "reason": "The team's template fits.",
                    },
                )
            ],
            text="Use the team's template?",
        )
    )
    conversation_id, stream_url = await start_chat(app_client, "Notes on otters please")
    parse_sse((await app_client.get(stream_url)).text)
    enum = model.requests[-1].body["tools"][0]["function"]["parameters"]["properties"]["workflow"][
        "enum"
    ]
    assert f"template:{template['slug']}" in enum
    async with pool.connection() as conn:
        message_id = (
            await (
                await conn.execute(
                    "SELECT id FROM messages WHERE conversation_id = %s AND role = 'assistant'",
                    (conversation_id,),
                )
            ).fetchone()
        )["id"]
    started = await app_client.post(f"/chat/proposals/{message_id}/start", headers=htmx(csrf))
    assert started.status_code == 200, started.text
    run = await _run_of_chat(pool, conversation_id)
    assert run["template_id"] == template["id"] and run["space_id"] == team


async def _queued(pool, owner_id: int, space_id: int, workflow: str, input: dict) -> dict:
    """A run of the team that nobody works on (no worker): its pages show its card as queued."""
    from app.engine.commands import start_run

    async with pool.connection() as conn:
        run, _ = await start_run(
            conn, owner_id=owner_id, workflow=workflow, input=input, space_id=space_id
        )
    return run


async def test_a_colleague_finds_the_team_runs_code_review_publishing_and_test_run_pages(
    app_client, pool
):
    alice = await make_user(pool, new_email("cr-a"), tier="enterprise")
    bob = await make_user(pool, new_email("cr-b"), tier="enterprise")
    viewer = await make_user(pool, new_email("cr-v"), tier="enterprise")
    outsider = await make_user(pool, new_email("cr-o"), tier="enterprise")
    team, _ = await make_team(pool, alice.id)
    await add_member(pool, team, bob.id, "member")
    await add_member(pool, team, viewer.id, "viewer")
    review = await _queued(
        pool, alice.id, team, "code-review", {"patch": "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"}
    )
    template = await _team_template(pool, alice.id, team, "Team test run")
    test_run = await _queued(pool, alice.id, team, "test-hook", {})

    await _as(app_client, pool, bob, team)
    page = await app_client.get(f"/code-review/{review.id}")
    assert page.status_code == 200, page.text[:300]
    editor = await app_client.get(f"/templates/{template['id']}?test_run={test_run.id}")
    assert editor.status_code == 200, editor.text[:300]

    await _as(app_client, pool, viewer, team)
    assert (await app_client.get(f"/code-review/{review.id}")).status_code == 200
    from tests.support.web import csrf_of

    csrf = csrf_of((await app_client.get("/chat")).text)
    fixes = await app_client.post(
        f"/code-review/{review.id}/fixes", data={"_csrf_token": csrf, "ref": "main"}
    )
    assert fixes.status_code == 403 and "viewer" in fixes.text
    publish = await app_client.post(
        f"/publishing/{review.id}/cancel-remaining", data={"_csrf_token": csrf}
    )
    assert publish.status_code == 403  # a viewer may not change a team's run

    await _as(app_client, pool, outsider, await _personal(pool, outsider.id))
    assert (await app_client.get(f"/code-review/{review.id}")).status_code == 404


async def _personal(pool, user_id: int) -> int:
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT id FROM spaces WHERE personal_of = %s", (user_id,))
        ).fetchone()
    return row["id"]


async def test_bulk_replay_selects_the_current_spaces_runs_of_every_member(app_client, pool):
    from app.web.auth import api_keys as keys

    alice = await make_user(pool, new_email("rp-a"), tier="enterprise")
    bob = await make_user(pool, new_email("rp-b"), tier="enterprise")
    team, _ = await make_team(pool, alice.id)
    await add_member(pool, team, bob.id, "member")
    by_bob = await _queued(pool, bob.id, team, "test-hook", {})
    alice_own = await _queued(pool, alice.id, await _personal(pool, alice.id), "test-hook", {})
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE runs SET status = 'failed', completed_at = now() WHERE id = ANY(%s)",
            ([by_bob.id, alice_own.id],),
        )
        key, _ = await keys.create_key(conn, alice.id, "replay", space_id=team)
    body = {"workflow": "test-hook", "statuses": ["failed"], "dry_run": True}
    dry = await app_client.post(
        "/api/v1/replays", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert dry.status_code == 200, dry.text
    selected = {r["id"] for r in dry.json()["selected"]}
    assert str(by_bob.id) in selected and str(alice_own.id) not in selected

    await _as(app_client, pool, alice, team)
    preview = await app_client.get(
        "/workflows/replay", params={"preview": "1", "workflow": "test-hook", "status": "failed"}
    )
    assert preview.status_code == 200, preview.text[:300]
    assert str(by_bob.id) in preview.text and str(alice_own.id) not in preview.text


async def test_a_role_assignment_is_refused_at_save_time_in_a_personal_space(pool):
    import pytest

    alice = await make_user(pool, new_email("role-tpl"), tier="enterprise")
    team, _ = await make_team(pool, alice.id)
    document = _document("Role review")
    document["blocks"][1] = document["blocks"][1] | {"assign_role": "admin"}
    async with pool.connection() as conn:
        with pytest.raises(templates.TemplateInvalid) as refused:
            await templates.create_template(conn, owner_id=alice.id, document=document)
    fields = {p.path: p.message for p in refused.value.problems}
    assert "blocks.1.assign_role" in fields and "personal" in fields["blocks.1.assign_role"]
    async with pool.connection() as conn:  # in the team it is saved
        saved = await templates.create_template(
            conn, owner_id=alice.id, document=document, space_id=team
        )
    assert saved["space_id"] == team
