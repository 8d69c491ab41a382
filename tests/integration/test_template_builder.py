"""The template builder's routes (/templates) over HTTP against real Postgres: the editor's live
check puts each problem next to its field, a save is refused while problems remain, structural
edits, versions and restore, autosaved drafts, CSRF on every form, another user's template is a
404, sharing by link (a revoked link is a 404), export and import (a bad file is refused with its
problems), and saved templates in the chat's workflow picker."""

from __future__ import annotations

import json
import re

from tests.support.web import csrf_of, htmx, log_in, make_user, new_email

GOOD = {
    "title": "Weekly notes",
    "description": "Notes on a topic, reviewed.",
    "inputs.0.name": "topic",
    "inputs.0.label": "Topic",
    "inputs.0.kind": "short_text",
    "inputs.0.required": "true",
    "blocks.0.kind": "ask_model",
    "blocks.0.id": "draft",
    "blocks.0.prompt": "Notes on {{ inputs.topic }}",
    "blocks.1.kind": "document",
    "blocks.1.id": "report",
    "blocks.1.markdown": "{{ draft }}",
}


async def signed_in(app_client, pool, tier: str = "pro"):
    user = await make_user(pool, new_email("tpl"), tier=tier)
    assert (await log_in(app_client, user.email)).status_code == 303
    return user


async def new_editor(app_client) -> str:
    """Opens a new template's editor; returns its CSRF token."""
    page = await app_client.get("/templates/new")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def save(app_client, csrf: str, form: dict, where: str = "new"):
    return await app_client.post(
        f"/templates/{where}/edit", data={**form, "op": "save"}, headers=htmx(csrf)
    )


async def saved_template(app_client, csrf: str, form: dict = GOOD) -> int:
    response = await save(app_client, csrf, form)
    assert response.status_code == 200, response.text
    return int(re.search(r"/templates/(\d+)", response.headers["HX-Location"]).group(1))


async def test_the_live_check_shows_each_problem_beside_its_field_and_keeps_the_draft(
    app_client, pool
):
    await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    form = {**GOOD, "blocks.0.prompt": "Notes on {{ nowhere }}"}
    response = await app_client.post("/templates/new/check", data=form, headers=htmx(csrf))
    assert response.status_code == 200
    slot = re.search(r'id="f-blocks-0-prompt-error"[^>]*>([^<]*)<', response.text)
    assert slot and "Unknown variable “nowhere”" in slot.group(1)
    assert (
        'id="f-title-error"' not in response.text
    )  # only slots with a problem (the page empties the others)
    assert "1 problem to fix" in response.text
    # The draft is kept: reopening the editor shows what was typed.
    page = await app_client.get("/templates/new")
    assert "Notes on {{ nowhere }}" in page.text and "Your unsaved changes were kept." in page.text
    # A test run takes the draft as it is (app/web/builder/library.start_test makes no version).
    assert "unsaved changes included" in page.text and "No version is saved." in page.text


async def test_saving_is_refused_with_the_list_of_problems(app_client, pool):
    await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    response = await save(app_client, csrf, {**GOOD, "title": ""})
    assert response.status_code == 422
    assert "Not saved: 1 problem to fix" in response.text
    assert re.search(r'id="f-title-error"[^>]*>This field is required.<', response.text)
    response = await save(
        app_client,
        csrf,
        {**GOOD, "blocks.0.prompt": "{{ nowhere }}", "blocks.1.markdown": "{{ gone }}"},
    )
    assert response.status_code == 422 and "Not saved: 2 problems to fix" in response.text
    assert (
        "Unknown variable “nowhere”" in response.text and "Unknown variable “gone”" in response.text
    )
    mine = await app_client.get("/templates")
    assert "Weekly notes" not in mine.text  # nothing half-saved


async def test_save_makes_versions_and_restore_brings_an_old_one_back(app_client, pool):
    await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    template_id = await saved_template(app_client, csrf)
    page = await app_client.get(f"/templates/{template_id}")
    assert "Saved as version 1" in page.text and "Weekly notes" in page.text
    second = await save(
        app_client, csrf, {**GOOD, "title": "Weekly notes, edited"}, str(template_id)
    )
    assert second.status_code == 200 and "Saved as version 2" in second.text
    page = await app_client.get(f"/templates/{template_id}")
    assert page.text.count('class="version"') == 2
    restored = await app_client.post(
        f"/templates/{template_id}/versions/1/restore", data={"_csrf_token": csrf}
    )
    assert restored.status_code == 303
    page = await app_client.get(f"/templates/{template_id}")
    assert page.text.count('class="version"') == 3 and 'value="Weekly notes"' in page.text


async def test_structural_edits_add_move_and_delete_blocks(app_client, pool):
    await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    response = await app_client.post(
        "/templates/new/edit", data={**GOOD, "op": "add:blocks:1:wait"}, headers=htmx(csrf)
    )
    assert response.status_code == 200
    kinds = re.findall(r'name="blocks\.(\d+)\.kind" value="([a-z_]+)"', response.text)
    assert kinds == [("0", "ask_model"), ("1", "wait"), ("2", "document")]
    moved = await app_client.post(
        "/templates/new/edit", data={**GOOD, "op": "up:blocks.1"}, headers=htmx(csrf)
    )
    assert re.findall(r'name="blocks\.\d+\.kind" value="([a-z_]+)"', moved.text) == [
        "document",
        "ask_model",
    ]
    gone = await app_client.post(
        "/templates/new/edit", data={**GOOD, "op": "del:blocks.0"}, headers=htmx(csrf)
    )
    assert re.findall(r'name="blocks\.\d+\.kind" value="([a-z_]+)"', gone.text) == ["document"]
    assert (
        "Unknown variable “draft”" in gone.text
    )  # the document now refers to a block that is gone


async def test_every_form_needs_the_csrf_token(app_client, pool):
    await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    template_id = await saved_template(app_client, csrf)
    for path in (
        "/templates/new/check",
        f"/templates/{template_id}/edit",
        f"/templates/{template_id}/sharing",
        f"/templates/{template_id}/use",
        f"/templates/{template_id}/run",
        "/templates/import",
        f"/templates/{template_id}/versions/1/restore",
        f"/templates/{template_id}/test",
    ):
        response = await app_client.post(path, data={**GOOD, "visibility": "link"})
        assert response.status_code == 403, path


async def test_another_users_template_is_a_404_everywhere(app_client, pool):
    await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    template_id = await saved_template(app_client, csrf)
    await signed_in(app_client, pool)
    csrf = csrf_of((await app_client.get("/templates")).text)
    for path in (
        f"/templates/{template_id}",
        f"/templates/{template_id}/run",
        f"/templates/{template_id}/export",
    ):
        assert (await app_client.get(path)).status_code == 404, path
    for path in (
        f"/templates/{template_id}/check",
        f"/templates/{template_id}/edit",
        f"/templates/{template_id}/sharing",
        f"/templates/{template_id}/use",
        f"/templates/{template_id}/versions/1/restore",
        f"/templates/{template_id}/test",
        f"/templates/{template_id}/run",
    ):
        response = await app_client.post(
            path, data={**GOOD, "op": "save", "visibility": "gallery", "_csrf_token": csrf}
        )
        assert response.status_code == 404, path
    assert "Weekly notes" not in (await app_client.get("/templates?tab=gallery")).text


async def test_a_share_link_shows_the_template_until_it_is_revoked(app_client, pool):
    owner = await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    template_id = await saved_template(app_client, csrf)
    await app_client.post(
        f"/templates/{template_id}/sharing", data={"visibility": "link", "_csrf_token": csrf}
    )
    page = await app_client.get(f"/templates/{template_id}")
    link = re.search(
        r'id="share-url" type="text" readonly value="[^"]*(/templates/shared/[^"]+)"', page.text
    ).group(1)

    await signed_in(app_client, pool)
    shared = await app_client.get(link)
    assert (
        shared.status_code == 200 and "Weekly notes" in shared.text and owner.email in shared.text
    )
    assert "Weekly notes" in (await app_client.get("/templates?tab=shared")).text
    used = await app_client.post(
        f"/templates/{template_id}/use", data={"_csrf_token": csrf_of(shared.text)}
    )
    copy_id = int(re.search(r"/templates/(\d+)", used.headers["location"]).group(1))
    assert (
        copy_id != template_id
        and (await app_client.get(f"/templates/{copy_id}")).status_code == 200
    )

    assert (await log_in(app_client, owner.email)).status_code == 303
    owner_csrf = csrf_of((await app_client.get(f"/templates/{template_id}")).text)
    revoked = await app_client.post(
        f"/templates/{template_id}/sharing",
        data={"visibility": "private", "_csrf_token": owner_csrf},
    )
    assert revoked.status_code == 303
    await log_in(app_client, (await pool_user_email(pool, copy_id)))
    assert (await app_client.get(link)).status_code == 404


async def pool_user_email(pool, template_id: int) -> str:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT u.email FROM templates t JOIN users u ON u.id = t.owner_id WHERE t.id = %s",
                (template_id,),
            )
        ).fetchone()
    return row["email"]


async def test_export_then_import_gives_the_same_template_and_a_bad_file_is_refused(
    app_client, pool
):
    await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    template_id = await saved_template(app_client, csrf)
    exported = await app_client.get(f"/templates/{template_id}/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    document = exported.json()
    assert (
        document["title"] == "Weekly notes"
        and document["blocks"][0]["prompt"] == "Notes on {{ inputs.topic }}"
    )

    imported = await app_client.post(
        "/templates/import",
        data={"_csrf_token": csrf},
        files={"file": ("notes.json", json.dumps(document).encode(), "application/json")},
    )
    assert imported.status_code == 303, imported.text
    new_id = int(re.search(r"/templates/(\d+)", imported.headers["location"]).group(1))
    again = await app_client.get(f"/templates/{new_id}/export")
    assert again.json() == document

    bad = {**document, "blocks": [{"kind": "ask_model", "id": "x", "prompt": "{{ missing }}"}]}
    refused = await app_client.post(
        "/templates/import",
        data={"_csrf_token": csrf},
        files={"file": ("bad.json", json.dumps(bad).encode(), "application/json")},
    )
    assert (
        refused.status_code == 422
        and "Unknown variable “missing”" in refused.text
        and "blocks.0.prompt" in refused.text
    )
    garbage = await app_client.post(
        "/templates/import",
        data={"_csrf_token": csrf},
        files={"file": ("x.json", b"\xff not json", "application/json")},
    )
    assert garbage.status_code == 422 and "This is not a JSON file." in garbage.text


async def test_saved_templates_are_in_the_chat_picker_and_run_from_it(app_client, pool):
    await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    template_id = await saved_template(app_client, csrf)
    picker = await app_client.get("/chat/workflows", headers=htmx(csrf))
    assert "Templates" in picker.text and f"/templates/{template_id}/run" in picker.text
    form = await app_client.get(f"/templates/{template_id}/run", headers=htmx(csrf))
    assert 'aria-label="Weekly notes"' in form.text and "Topic" in form.text
    missing = await app_client.post(
        f"/templates/{template_id}/run", data={"_csrf_token": csrf}, headers=htmx(csrf)
    )
    assert missing.status_code == 422 and "required" in missing.text


async def test_a_saved_template_starts_from_its_slash_command_in_the_chat(app_client, pool):
    await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    template_id = await saved_template(app_client, csrf)
    async with pool.connection() as conn:
        slug = (
            await (
                await conn.execute("SELECT slug FROM templates WHERE id = %s", (template_id,))
            ).fetchone()
        )["slug"]
    response = await app_client.post(
        "/chat", data={"content": f"/{slug} hedgehogs in winter", "_csrf_token": csrf}
    )
    assert response.status_code == 303, response.text
    conversation_id = int(response.headers["location"].rsplit("/", 1)[1])
    async with pool.connection() as conn:
        run = await (
            await conn.execute(
                "SELECT template_id, template_version, input, title FROM runs WHERE chat_id = %s",
                (conversation_id,),
            )
        ).fetchone()
    assert run["template_id"] == template_id and run["template_version"] == 1
    assert run["input"]["topic"] == "hedgehogs in winter"
    # A slash word that names no template is an ordinary message for the model.
    other = await app_client.post(
        "/chat", data={"content": "/nothing-called-this please", "_csrf_token": csrf}
    )
    assert other.status_code == 303
    async with pool.connection() as conn:
        chat_id = int(other.headers["location"].rsplit("/", 1)[1])
        assert (
            await (
                await conn.execute("SELECT count(*) AS n FROM runs WHERE chat_id = %s", (chat_id,))
            ).fetchone()
        )["n"] == 0


async def test_the_model_may_propose_a_saved_template_and_it_starts_on_confirm(
    app_client, pool, model
):
    from tests.support.model_server import Call, ToolCalls
    from tests.support.web import parse_sse, start_chat

    await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    template_id = await saved_template(app_client, csrf)
    async with pool.connection() as conn:
        slug = (
            await (
                await conn.execute("SELECT slug FROM templates WHERE id = %s", (template_id,))
            ).fetchone()
        )["slug"]
    model.script(
        ToolCalls(
            [
                Call(
                    "propose_workflow",
                    {
                        "workflow": f"template:{slug}",
                        "input": {"topic": "otters"},
                        "reason": "Your own template fits.",
                    },
                )
            ],
            text="Use your template?",
        )
    )
    conversation_id, stream_url = await start_chat(app_client, "Weekly notes on otters please")
    end = parse_sse((await app_client.get(stream_url)).text)[-1][1]
    assert "Weekly notes" in end and "Your own template fits." in end
    enum = model.requests[0].body["tools"][0]["function"]["parameters"]["properties"]["workflow"][
        "enum"
    ]
    assert f"template:{slug}" in enum and "content-generation" in enum
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
    async with pool.connection() as conn:
        run = await (
            await conn.execute(
                "SELECT template_id, input FROM runs WHERE chat_id = %s", (conversation_id,)
            )
        ).fetchone()
    assert run["template_id"] == template_id and run["input"]["topic"] == "otters"


async def test_publish_to_the_gallery_and_an_admin_unpublishes(app_client, pool):
    author = await signed_in(app_client, pool)
    csrf = await new_editor(app_client)
    template_id = await saved_template(app_client, csrf, {**GOOD, "title": "Gallery notes"})
    await app_client.post(
        f"/templates/{template_id}/sharing", data={"visibility": "gallery", "_csrf_token": csrf}
    )

    await signed_in(app_client, pool)  # anyone sees it in the gallery, and "Use" copies it
    gallery = await app_client.get("/templates?tab=gallery&q=gallery+notes")
    assert (
        "Gallery notes" in gallery.text
        and author.email in gallery.text
        and "Unpublish" not in gallery.text
    )
    assert (
        await app_client.post(
            f"/templates/{template_id}/unpublish", data={"_csrf_token": csrf_of(gallery.text)}
        )
    ).status_code == 404

    admin = await make_user(pool, new_email("admin"), tier="pro", is_admin=True)
    assert (await log_in(app_client, admin.email)).status_code == 303
    gallery = await app_client.get("/templates?tab=gallery")
    assert "Unpublish" in gallery.text
    response = await app_client.post(
        f"/templates/{template_id}/unpublish", data={"_csrf_token": csrf_of(gallery.text)}
    )
    assert response.status_code == 303
    assert "Gallery notes" not in (await app_client.get("/templates?tab=gallery")).text


async def test_the_help_link_leads_to_the_guide(app_client, pool):
    await signed_in(app_client, pool)
    page = await app_client.get("/templates")
    assert 'href="/help/templates"' in page.text
    guide = await app_client.get("/help/templates")
    assert guide.status_code == 200 and "Building templates" in guide.text


async def test_use_of_a_template_with_a_webhook_asks_for_the_address_instead_of_copying_it(
    app_client, pool
):
    from app.templates import store

    author = await make_user(pool, new_email("hooks"), tier="pro")
    document = {
        "title": "Notify on notes",
        "blocks": [
            {"id": "draft", "kind": "ask_model", "prompt": "Notes"},
            {
                "id": "notify",
                "kind": "send",
                "channel": "webhook",
                "url": "https://hooks.example.com/services/xoxb-author-token",
                "body": "{{ draft }}",
            },
        ],
    }
    async with pool.connection() as conn:
        template = await store.create_template(conn, owner_id=author.id, document=document)
        await store.set_visibility(
            conn, user_id=author.id, template_id=template["id"], visibility="gallery"
        )
    await signed_in(app_client, pool)
    gallery = await app_client.get("/templates?tab=gallery")
    assert "Notify on notes" in gallery.text and "xoxb" not in gallery.text
    used = await app_client.post(
        f"/templates/{template['id']}/use", data={"_csrf_token": csrf_of(gallery.text)}
    )
    assert used.status_code == 303 and used.headers["location"] == "/templates/new?copy=1"
    editor = await app_client.get(used.headers["location"])
    assert editor.status_code == 200 and "xoxb" not in editor.text
    assert "Your copy is not saved yet" in editor.text
    assert "Give the http(s) URL to send the webhook to." in editor.text
    assert "Notify on notes" in editor.text
