"""Starting workflows from the chat over HTTP: the picker and its generated forms (errors next to
the field), slash commands, the quota refusal, run cards in the conversation, and who sees them."""

from __future__ import annotations

import re

from tests.integration.workflows.conftest import waiting_hook
from tests.integration.workflows.web import post_htmx, run_ids, signed_in
from tests.support.engine import wait_status
from tests.support.web import csrf_of, htmx, sign_up, token


async def conversation(pool, user_id: int) -> int:
    async with pool.connection() as conn:
        return (
            await (
                await conn.execute(
                    "INSERT INTO conversations (user_id, title) VALUES (%s, 'Chat') RETURNING id",
                    (user_id,),
                )
            ).fetchone()
        )["id"]


async def test_the_picker_lists_the_catalog_and_opens_a_generated_form(app_client, pool):
    await signed_in(app_client, pool)
    picker = await app_client.get(
        "/chat/workflows?conversation_id=5", headers={"HX-Request": "true"}
    )
    assert picker.status_code == 200
    assert "Reviewed content" in picker.text and "Research team" in picker.text
    assert "Drafts a document, waits for your review" in picker.text
    assert (
        "selftest" not in picker.text and "Self-test" not in picker.text
    )  # operator workflows stay hidden
    assert 'hx-get="/chat/workflows/content-generation?conversation_id=5"' in picker.text

    form = await app_client.get(
        "/chat/workflows/content-generation?conversation_id=5", headers={"HX-Request": "true"}
    )
    html = form.text
    assert '<textarea id="wf-prompt" name="prompt"' in html and "required" in html
    assert 'name="max_revisions" type="number" value="5"' in html and 'min="0" max="10"' in html
    assert 'name="review_timeout" type="text" value="24h"' in html and "More options" in html
    assert 'name="conversation_id" value="5"' in html
    assert (
        await app_client.get("/chat/workflows/selftest", headers={"HX-Request": "true"})
    ).status_code == 404
    assert (
        await app_client.get("/chat/workflows/nope", headers={"HX-Request": "true"})
    ).status_code == 404
    page = await app_client.get("/chat/workflows/content-generation")  # without HTMX: a whole page
    assert page.status_code == 200 and "<html" in page.text and 'name="prompt"' in page.text


async def test_invalid_input_is_refused_with_the_error_next_to_its_field(app_client, pool):
    _, user_id = await signed_in(app_client, pool)
    chat_id = await conversation(pool, user_id)
    response = await post_htmx(
        app_client,
        "/chat/workflows/content-generation",
        {
            "conversation_id": str(chat_id),
            "prompt": "  ",
            "max_revisions": "50",
            "review_timeout": "soon",
        },
    )
    assert response.status_code == 422
    html = response.text
    errors = dict(
        re.findall(r'<p class="field-error" id="wf-(\w+)-error" role="alert">([^<]+)</p>', html)
    )
    assert set(errors) == {"prompt", "max_revisions", "review_timeout"}
    assert "less than or equal to 10" in errors["max_revisions"]
    assert errors["review_timeout"] == "Write a duration like 30m, 4h or 2d."
    assert 'value="50"' in html and 'value="soon"' in html  # what was typed is kept
    assert '<details class="more-options" open>' in html  # the error inside "More options" is shown
    async with pool.connection() as conn:
        assert (
            await (
                await conn.execute("SELECT count(*) AS n FROM runs WHERE owner_id = %s", (user_id,))
            ).fetchone()
        )["n"] == 0


async def test_starting_from_the_picker_appends_a_live_card_and_the_chat_keeps_it(
    app_client, pool, worker, agents
):
    _, user_id = await signed_in(app_client, pool)
    chat_id = await conversation(pool, user_id)
    response = await post_htmx(
        app_client,
        "/chat/workflows/content-generation",
        {"conversation_id": str(chat_id), "prompt": "A note on composting", "max_revisions": "2"},
    )
    assert response.status_code == 200, response.text
    assert (
        response.headers["HX-Retarget"] == "#messages"
        and response.headers["HX-Reswap"] == "beforeend"
    )
    [run_id] = run_ids(response.text)
    assert f'hx-trigger="sse:run-{run_id}, sse:resync, load delay:800ms"' in response.text
    assert 'id="workflow-panel" class="workflow-panel" hx-swap-oob="true"' in response.text

    await waiting_hook(pool, run_id, "review draft")
    card = await app_client.get(f"/chat/runs/{run_id}/card", headers={"HX-Request": "true"})
    assert "Waiting for: <strong>review draft</strong>" in card.text
    assert 'data-state="done"' in card.text and 'data-state="waiting"' in card.text
    assert "The first draft of the document." in card.text
    assert (
        ">Approve</button>" in card.text
        and ">Request revision</button>" in card.text
        and ">Reject</button>" in card.text
    )

    page = await app_client.get(f"/chat/{chat_id}")
    assert (
        run_ids(page.text) == [run_id] and "Waiting for: <strong>review draft</strong>" in page.text
    )
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT chat_id, title, input FROM runs WHERE id = %s", (run_id,))
        ).fetchone()
    assert row["chat_id"] == chat_id and row["title"] == "A note on composting"
    assert row["input"]["max_revisions"] == 2 and row["input"]["review_timeout"] == "24h"


async def test_starting_from_a_new_chat_creates_the_conversation(app_client, pool, worker, agents):
    await signed_in(app_client, pool)
    response = await post_htmx(
        app_client, "/chat/workflows/multi-agent", {"topic": "Night trains in Europe"}
    )
    location = response.headers["HX-Location"]
    page = await app_client.get(location)
    assert "Night trains in Europe" in page.text and len(run_ids(page.text)) == 1


async def test_slash_commands_start_workflows_and_help_lists_them(app_client, pool, worker, agents):
    _, user_id = await signed_in(app_client, pool)
    chat_id = await conversation(pool, user_id)
    csrf = await token(app_client)
    helped = await app_client.post(
        f"/chat/{chat_id}/messages", data={"content": "/help"}, headers=htmx(csrf)
    )
    assert helped.status_code == 200
    assert "/report &lt;prompt&gt;" in helped.text and "/team &lt;topic&gt;" in helped.text
    assert not agents.requests  # no model reply, nothing stored
    report = await app_client.post(
        f"/chat/{chat_id}/messages",
        data={"content": "/report  Solar panels on schools"},
        headers=htmx(csrf),
    )
    assert report.status_code == 200 and "/report  Solar panels on schools" in report.text
    [run_id] = run_ids(report.text)
    team = await app_client.post(
        f"/chat/{chat_id}/messages", data={"content": "/team Heat pumps"}, headers=htmx(csrf)
    )
    [team_run] = run_ids(team.text)
    async with pool.connection() as conn:
        runs = await (
            await conn.execute(
                "SELECT id::text, workflow, input FROM runs WHERE chat_id = %s ORDER BY created_at",
                (chat_id,),
            )
        ).fetchall()
        messages = await (
            await conn.execute(
                "SELECT role, content FROM messages WHERE conversation_id = %s ORDER BY id",
                (chat_id,),
            )
        ).fetchall()
    assert [(r["id"], r["workflow"]) for r in runs] == [
        (run_id, "content-generation"),
        (team_run, "multi-agent"),
    ]
    assert (
        runs[0]["input"]["prompt"] == "Solar panels on schools"
        and runs[1]["input"]["topic"] == "Heat pumps"
    )
    assert [m["content"] for m in messages] == [
        "/report  Solar panels on schools",
        "/team Heat pumps",
    ]
    page = await app_client.get(f"/chat/{chat_id}")  # each card right after its command
    assert (
        page.text.index("/report  Solar")
        < page.text.index(run_id)
        < page.text.index("/team Heat")
        < page.text.index(team_run)
    )

    empty = await app_client.post(
        f"/chat/{chat_id}/messages", data={"content": "/report"}, headers=htmx(csrf)
    )
    assert empty.status_code == 422 and "Write what it is about after /report" in empty.text
    assert empty.headers["HX-Retarget"] == "#composer"
    await wait_status(pool, run_id, "waiting")


async def test_the_free_tier_is_refused_clearly(app_client, pool):
    _, user_id = await signed_in(app_client, pool, tier="free")
    chat_id = await conversation(pool, user_id)
    refused = await post_htmx(
        app_client,
        "/chat/workflows/content-generation",
        {"conversation_id": str(chat_id), "prompt": "Anything"},
    )
    assert refused.status_code == 422
    assert "monthly workflow limit reached (0 on Free)" in refused.text
    by_command = await app_client.post(
        f"/chat/{chat_id}/messages",
        data={"content": "/report Anything"},
        headers=htmx(await token(app_client)),
    )
    assert (
        by_command.status_code == 422
        and "monthly workflow limit reached (0 on Free)" in by_command.text
    )
    new_chat = await post_htmx(
        app_client, "/chat/workflows/content-generation", {"prompt": "Anything"}
    )
    assert new_chat.status_code == 422
    async with pool.connection() as conn:  # nothing half-made: no run, no message, no new chat
        counts = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM runs WHERE owner_id = %(u)s) AS runs, "
                "(SELECT count(*) FROM conversations WHERE user_id = %(u)s) AS chats, "
                "(SELECT count(*) FROM messages WHERE conversation_id = %(c)s) AS messages",
                {"u": user_id, "c": chat_id},
            )
        ).fetchone()
    assert counts == {"runs": 0, "chats": 1, "messages": 0}


async def test_someone_elses_run_chat_and_cards_are_not_found(app_client, pool, worker, agents):
    _, owner = await signed_in(app_client, pool)
    chat_id = await conversation(pool, owner)
    started = await post_htmx(
        app_client,
        "/chat/workflows/content-generation",
        {"conversation_id": str(chat_id), "prompt": "Private"},
    )
    [run_id] = run_ids(started.text)
    await sign_up(app_client)  # someone else now
    assert (await app_client.get(f"/chat/runs/{run_id}/card")).status_code == 404
    csrf = await token(app_client)
    assert (
        await app_client.post(f"/chat/runs/{run_id}/cancel", headers=htmx(csrf))
    ).status_code == 404
    assert (
        await app_client.post(
            "/chat/workflows/content-generation",
            headers=htmx(csrf),
            data={"conversation_id": str(chat_id), "prompt": "Into their chat"},
        )
    ).status_code == 404
    assert (await app_client.get("/chat/runs/not-a-uuid/card")).status_code == 404
    await wait_status(pool, run_id, "waiting")


async def test_cancel_from_the_card(app_client, pool, worker, agents):
    _, user_id = await signed_in(app_client, pool)
    chat_id = await conversation(pool, user_id)
    [run_id] = run_ids(
        (
            await post_htmx(
                app_client,
                "/chat/workflows/content-generation",
                {"conversation_id": str(chat_id), "prompt": "To cancel"},
            )
        ).text
    )
    await waiting_hook(pool, run_id, "review draft")
    page = await app_client.get(f"/chat/{chat_id}")
    cancelled = await app_client.post(
        f"/chat/runs/{run_id}/cancel",
        data={"_csrf_token": csrf_of(page.text)},
        headers={"HX-Request": "true"},
    )
    assert (
        cancelled.status_code == 200
        and "Cancelled" in cancelled.text
        and "Cancel run" not in cancelled.text
    )
    assert (await wait_status(pool, run_id, "cancelled"))["status"] == "cancelled"
    # A cancelled run no longer reads as waiting, part-way: no progress bar, no "Waiting for your review · 25%".
    for view in (
        await app_client.get(f"/chat/runs/{run_id}/card"),
        await app_client.get(f"/workflows/{run_id}"),
    ):
        assert view.status_code == 200 and 'class="run-progress"' not in view.text
        assert (
            "Waiting for your review ·" not in view.text
            and "Waiting for your review</strong>" not in view.text
        )
