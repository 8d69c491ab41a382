"""The chat over HTTP: sending, streaming, storing, regenerating, renaming, deleting, limits,
model errors and who may see what."""

import dataclasses
import re

import pytest
from litestar.testing import AsyncTestClient

from app.core.llm import LLM, estimate_tokens
from app.web.chat.replies import CONTEXT_BUDGET, SYSTEM_PROMPT
from tests.support.live_server import free_port
from tests.support.model_server import Failure, Hang, Reply
from tests.support.waiting import wait_for
from tests.support.web import (
    STREAM_URL,
    htmx,
    parse_sse,
    reply_written,
    send,
    sign_up,
    start_chat,
    token,
)


async def rows(pool, conversation_id):
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT id, role, content, status, error FROM messages WHERE conversation_id = %s ORDER BY id",
                (conversation_id,),
            )
        ).fetchall()


async def finish(client, stream_url) -> list[tuple[str, str]]:
    """Read a reply's stream to its end (the test client returns once the stream closes)."""
    return parse_sse((await client.get(stream_url)).text)


async def test_a_reply_streams_token_by_token_is_stored_and_survives_a_reload(
    app_client, model, pool
):
    await sign_up(app_client)
    model.script(Reply("Hello **there**, friend. " * 3, delay=0.03))
    conversation_id, stream_url = await start_chat(app_client, "Say hello")
    events = await finish(app_client, stream_url)
    names = [name for name, _ in events]
    assert names[0] == "text" and names[-1] == "end" and names.count("token") >= 3
    assert "<strong>there</strong>" in events[-1][1] and "Regenerate" in events[-1][1]

    stored = await rows(pool, conversation_id)
    assert [(r["role"], r["status"]) for r in stored] == [("user", "done"), ("assistant", "done")]
    assert stored[1]["content"] == "Hello **there**, friend. " * 3
    page = await app_client.get(f"/chat/{conversation_id}")
    assert (
        "Say hello" in page.text
        and "<strong>there</strong>" in page.text
        and 'sse-connect="/chat/' not in page.text
    )
    sent = model.requests[-1].body["messages"]
    assert sent == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "Say hello"},
    ]


async def test_the_next_message_is_appended_with_the_history_as_context(app_client, model):
    await sign_up(app_client)
    model.script(Reply("First answer."), Reply("Second answer."))
    conversation_id, stream_url = await start_chat(app_client, "First question")
    await finish(app_client, stream_url)
    other_id, other_stream = await start_chat(app_client, "Another chat")
    await finish(app_client, other_stream)

    response = await send(app_client, conversation_id, "Second question", await token(app_client))
    assert response.status_code == 200
    fragment = response.text
    assert "Second question" in fragment and 'hx-swap-oob="true"' in fragment
    sidebar = fragment.split('id="conversation-list"')[1]
    assert sidebar.index(f'id="conv-{conversation_id}"') < sidebar.index(
        f'id="conv-{other_id}"'
    )  # newest first
    await finish(app_client, STREAM_URL.findall(fragment)[-1])
    assert [m["content"] for m in model.requests[-1].body["messages"][1:]] == [
        "First question",
        "First answer.",
        "Second question",
    ]


async def test_long_conversations_are_trimmed_to_the_context_budget(app_client, model, pool):
    await sign_up(app_client)
    conversation_id, stream_url = await start_chat(app_client, "start")
    await finish(app_client, stream_url)
    async with pool.connection() as conn:
        await conn.execute(
            """INSERT INTO messages (conversation_id, role, content)
            SELECT %s, CASE WHEN i %% 2 = 0 THEN 'user' ELSE 'assistant' END, 'old message ' || i || ' ' || repeat('x', 2000)
            FROM generate_series(1, 60) i""",
            (conversation_id,),
        )
    response = await send(
        app_client, conversation_id, "the newest question", await token(app_client)
    )
    await finish(app_client, STREAM_URL.findall(response.text)[-1])
    sent = model.requests[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert sent[-1]["content"] == "the newest question"
    assert 3 < len(sent) < 62
    assert sum(estimate_tokens(m["content"]) + 4 for m in sent) <= CONTEXT_BUDGET
    assert "old message 60 " in sent[-2]["content"]  # the newest history is what is kept


async def test_stop_ends_the_reply_and_keeps_what_was_written(app_client, model, pool):
    await sign_up(app_client)
    model.script(Reply("word " * 200, delay=0.02))
    conversation_id, stream_url = await start_chat(app_client, "Write a lot")
    message_id = int(stream_url.split("/")[-2])
    await wait_for(lambda: reply_written(pool, message_id), what="the reply's first words")
    stop = await app_client.post(
        f"/chat/{conversation_id}/messages/{message_id}/stop", headers=htmx(await token(app_client))
    )
    assert stop.status_code == 204
    events = await finish(app_client, stream_url)
    assert events[-1][0] == "end" and "Stopped" in events[-1][1] and "Regenerate" in events[-1][1]
    reply = (await rows(pool, conversation_id))[1]
    assert reply["status"] == "stopped"
    assert 0 < len(reply["content"]) < len("word " * 200) and reply["content"].startswith(
        "word word"
    )
    await wait_for(
        lambda: model.requests[-1].ended, what="the model server to be done with the call"
    )
    assert model.requests[-1].completed is False  # the model call itself was cancelled


async def test_regenerate_replaces_the_last_reply(app_client, model, pool):
    await sign_up(app_client)
    model.script(Reply("Answer one."), Reply("Answer two."))
    conversation_id, stream_url = await start_chat(app_client, "Question")
    await finish(app_client, stream_url)
    first = (await rows(pool, conversation_id))[1]
    response = await app_client.post(
        f"/chat/{conversation_id}/regenerate",
        data={"message_id": first["id"]},
        headers=htmx(await token(app_client)),
    )
    assert response.status_code == 200 and f'id="msg-{first["id"]}"' not in response.text
    await finish(app_client, STREAM_URL.findall(response.text)[-1])
    assert [(r["role"], r["content"]) for r in await rows(pool, conversation_id)] == [
        ("user", "Question"),
        ("assistant", "Answer two."),
    ]
    again = await app_client.post(
        f"/chat/{conversation_id}/regenerate",
        data={"message_id": first["id"]},
        headers=htmx(await token(app_client)),
    )
    assert again.status_code == 422 and again.headers["hx-retarget"] == "#flash"


@pytest.mark.parametrize(
    ("failure", "shown"),
    [
        (Failure(401), "rejected Baton"),
        (Failure(429, retry_after=3), "rate limited"),
        (Failure(500), "internal error"),
        (Hang(), "took too long"),
    ],
)
async def test_model_errors_are_shown_with_a_retry_and_the_message_is_kept(
    app_client, model, pool, failure, shown
):
    await sign_up(app_client)
    model.script(failure, Reply("Recovered."))
    conversation_id, stream_url = await start_chat(app_client, "Please answer")
    end = (await finish(app_client, stream_url))[-1]
    assert end[0] == "end" and shown in end[1] and ">Retry<" in end[1] and 'role="alert"' in end[1]
    user_message, reply = await rows(pool, conversation_id)
    assert (user_message["content"], reply["status"]) == ("Please answer", "error")

    retry = await app_client.post(
        f"/chat/{conversation_id}/regenerate",
        data={"message_id": reply["id"]},
        headers=htmx(await token(app_client)),
    )
    await finish(app_client, STREAM_URL.findall(retry.text)[-1])
    assert [(r["content"], r["status"]) for r in await rows(pool, conversation_id)] == [
        ("Please answer", "done"),
        ("Recovered.", "done"),
    ]


async def test_an_unreachable_model_endpoint_is_explained(model_settings, database_url, pool):
    from app.web.app import create_app

    settings = dataclasses.replace(
        model_settings, openai_base_url=f"http://127.0.0.1:{free_port()}/v1"
    )
    async with AsyncTestClient(
        create_app(
            settings, database_url, run_worker=False, llm=LLM.from_settings(settings, timeout=2)
        )
    ) as client:
        client.follow_redirects = False
        await sign_up(client)
        conversation_id, stream_url = await start_chat(client, "Anyone there?")
        end = (await finish(client, stream_url))[-1][1]
    assert "could not be reached" in end and "Retry" in end
    assert (await rows(pool, conversation_id))[0]["content"] == "Anyone there?"


async def test_a_new_message_waits_for_the_reply_in_progress(app_client, model):
    await sign_up(app_client)
    model.script(Reply("slow " * 50, delay=0.05))
    conversation_id, stream_url = await start_chat(app_client, "first")
    response = await send(app_client, conversation_id, "too soon", await token(app_client))
    assert response.status_code == 422 and response.headers["hx-retarget"] == "#composer"
    assert (
        "Wait for the reply to finish" in response.text and ">too soon</textarea>" in response.text
    )
    await finish(app_client, stream_url)


async def test_messages_are_validated_and_nothing_typed_is_lost(app_client):
    await sign_up(app_client)
    csrf = await token(app_client)
    empty = await app_client.post("/chat", data={"content": "   "}, headers=htmx(csrf))
    assert empty.status_code == 422 and "Type a message first." in empty.text
    long = "x" * 32_001
    too_long = await app_client.post("/chat", data={"content": long}, headers=htmx(csrf))
    assert too_long.status_code == 422 and "too long" in too_long.text and long in too_long.text
    plain = await app_client.post(
        "/chat", data={"content": "", "_csrf_token": csrf}
    )  # no JavaScript
    assert (
        plain.status_code == 422 and "<html" in plain.text and "Type a message first." in plain.text
    )


async def test_the_chat_rate_limit_holds_across_processes_and_says_how_long_to_wait(
    app_client, model, model_settings, database_url, pool
):
    from app.web.app import create_app

    await sign_up(app_client)  # free tier: 10 messages a minute
    conversation_id, stream_url = await start_chat(app_client, "message 1")
    await finish(app_client, stream_url)
    csrf = await token(app_client)
    for n in range(2, 11):
        response = await send(app_client, conversation_id, f"message {n}", csrf)
        assert response.status_code == 200, response.text
        await finish(app_client, STREAM_URL.findall(response.text)[-1])
    async with AsyncTestClient(
        create_app(model_settings, database_url, run_worker=False)
    ) as other_process:
        other_process.cookies = app_client.cookies
        refused = await send(other_process, conversation_id, "message 11", csrf)
    assert refused.status_code == 429
    assert re.search(r"limit of 10 messages a minute\. Try again in \d+ seconds\.", refused.text)
    assert ">message 11</textarea>" in refused.text  # kept in the composer
    assert len(await rows(pool, conversation_id)) == 20


async def test_rename_and_delete_a_conversation(app_client, model, pool):
    await sign_up(app_client)
    conversation_id, stream_url = await start_chat(app_client, "Plans for the weekend")
    await finish(app_client, stream_url)
    csrf = await token(app_client)
    form = await app_client.get(f"/chat/{conversation_id}/title", headers={"HX-Request": "true"})
    assert 'name="title"' in form.text and "Plans for the weekend" in form.text
    renamed = await app_client.post(
        f"/chat/{conversation_id}/title", data={"title": "  Trip  to Rome "}, headers=htmx(csrf)
    )
    assert (
        "Trip to Rome" in renamed.text
        and f'id="conv-{conversation_id}" hx-swap-oob="true"' in renamed.text
    )
    blank = await app_client.post(
        f"/chat/{conversation_id}/title", data={"title": " "}, headers=htmx(csrf)
    )
    assert blank.status_code == 422 and "Give the chat a title." in blank.text
    assert "Trip to Rome" in (await app_client.get("/chat")).text

    confirm = await app_client.get(f"/chat/{conversation_id}/delete")
    assert "Delete this chat?" in confirm.text and "Trip to Rome" in confirm.text
    deleted = await app_client.post(f"/chat/{conversation_id}/delete", headers=htmx(csrf))
    assert deleted.headers["hx-location"] == "/chat"
    assert (await app_client.get(f"/chat/{conversation_id}")).status_code == 404
    assert await rows(pool, conversation_id) == []


async def test_the_sidebar_pages_through_many_conversations_newest_first(app_client, pool):
    await sign_up(app_client)
    page = await app_client.get("/chat")
    async with pool.connection() as conn:
        user_id = (
            await (await conn.execute("SELECT id FROM users ORDER BY id DESC LIMIT 1")).fetchone()
        )["id"]
        await conn.execute(
            """INSERT INTO conversations (user_id, title, updated_at)
            SELECT %s, 'Chat ' || i, now() - make_interval(mins => i) FROM generate_series(1, 55) i""",
            (user_id,),
        )
    page = await app_client.get("/chat")
    titles = re.findall(r'<li id="conv-\d+"><a href="/chat/\d+">(Chat \d+)</a>', page.text)
    assert titles == [f"Chat {i}" for i in range(1, 51)] and "Show more" in page.text
    more_url = re.search(r'hx-get="(/chat/list[^"]+)"', page.text).group(1).replace("&amp;", "&")
    more = await app_client.get(more_url, headers={"HX-Request": "true"})
    assert re.findall(r">(Chat \d+)</a>", more.text) == [f"Chat {i}" for i in range(51, 56)]
    assert "Show more" not in more.text


async def test_another_users_chat_url_fragment_and_stream_are_not_found(
    app_client, model, model_settings, database_url, pool
):
    from app.web.app import create_app

    await sign_up(app_client)
    model.script(Reply("private " * 30, delay=0.02))
    conversation_id, stream_url = await start_chat(app_client, "my secret")
    message_id = int(stream_url.split("/")[-2])
    async with AsyncTestClient(
        create_app(model_settings, database_url, run_worker=False)
    ) as intruder:
        intruder.follow_redirects = False
        await sign_up(intruder)
        csrf = await token(intruder)
        base = f"/chat/{conversation_id}"
        for method, path, data in [
            ("GET", base, None),
            ("GET", f"{base}/title", None),
            ("GET", stream_url, None),
            ("GET", f"{base}/delete", None),
            ("POST", f"{base}/messages", {"content": "hi"}),
            ("POST", f"{base}/messages/{message_id}/stop", {}),
            ("POST", f"{base}/regenerate", {"message_id": message_id}),
            ("POST", f"{base}/title", {"title": "mine now"}),
            ("POST", f"{base}/delete", {}),
        ]:
            response = await intruder.request(method, path, data=data, headers=htmx(csrf))
            assert response.status_code == 404, (method, path, response.status_code)
            assert "my secret" not in response.text and "private" not in response.text
    await finish(app_client, stream_url)
    stored = await rows(pool, conversation_id)
    assert [r["status"] for r in stored] == ["done", "done"] and stored[1][
        "content"
    ] == "private " * 30


async def test_the_offline_model_answers_and_is_labelled(settings, database_url):
    from app.web.app import create_app

    async with AsyncTestClient(create_app(settings, database_url, run_worker=False)) as client:
        client.follow_redirects = False
        await sign_up(client)
        page = await client.get("/chat")
        assert "Offline demo model" in page.text
        conversation_id, stream_url = await start_chat(client, "hello")
        end = (await finish(client, stream_url))[-1][1]
    assert "offline demo model" in end.lower() and "Offline demo model" in end
