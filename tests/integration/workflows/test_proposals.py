"""The model proposing a workflow from the chat (a `propose_workflow` tool call): the offer is shown
with the reply, nothing starts until the user presses Start, a second press starts nothing; the
offline demo model proposes on a clear request for a reviewed report."""

from __future__ import annotations

import dataclasses

from litestar.testing import AsyncTestClient

from app.core.llm import LLM
from tests.integration.workflows.web import run_ids, signed_in
from tests.support.fixtures import forget_ip_limits
from tests.support.model_server import Call, Failure, Reply, ToolCalls, echo
from tests.support.web import htmx, parse_sse, start_chat, token

PROPOSAL = Call(
    "propose_workflow",
    {
        "workflow": "content-generation",
        "input": {"prompt": "A reviewed report on bees"},
        "reason": "A report like this needs your review.",
    },
)


async def message_row(pool, conversation_id):
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT id, content, status, error, proposal FROM messages WHERE conversation_id = %s AND role = 'assistant' ORDER BY id DESC LIMIT 1",
                (conversation_id,),
            )
        ).fetchone()


async def test_a_proposed_workflow_starts_only_when_the_user_confirms_and_only_once(
    app_client, pool, model, worker
):
    await signed_in(app_client, pool)
    model.script(ToolCalls([PROPOSAL], text="Shall I run a reviewed report?"))
    conversation_id, stream_url = await start_chat(app_client, "Write me a reviewed report on bees")
    end = parse_sse((await app_client.get(stream_url)).text)[-1][1]
    assert "Shall I run a reviewed report?" in end and "Start workflow" in end
    assert "A report like this needs your review." in end
    tools = model.requests[0].body["tools"]
    assert [t["function"]["name"] for t in tools] == ["propose_workflow"]
    assert {"multi-agent", "content-generation"} <= set(
        tools[0]["function"]["parameters"]["properties"]["workflow"]["enum"]
    )
    message = await message_row(pool, conversation_id)
    assert message["proposal"]["status"] == "pending"
    async with pool.connection() as conn:  # nothing started yet
        assert (
            await (
                await conn.execute(
                    "SELECT count(*) AS n FROM runs WHERE chat_id = %s", (conversation_id,)
                )
            ).fetchone()
        )["n"] == 0

    csrf = await token(app_client)
    started = await app_client.post(f"/chat/proposals/{message['id']}/start", headers=htmx(csrf))
    assert started.status_code == 200 and "its card is in the conversation" in started.text
    [run_id] = run_ids(started.text)
    assert 'hx-swap-oob="beforeend:#messages"' in started.text
    again = await app_client.post(f"/chat/proposals/{message['id']}/start", headers=htmx(csrf))
    assert "already answered" in again.text and run_ids(again.text) == []
    async with pool.connection() as conn:
        runs = await (
            await conn.execute(
                "SELECT id::text, workflow, input FROM runs WHERE chat_id = %s", (conversation_id,)
            )
        ).fetchall()
    assert runs == [
        {
            "id": run_id,
            "workflow": "content-generation",
            "input": {
                "prompt": "A reviewed report on bees",
                "title": None,
                "max_revisions": 5,
                "reviewer_email": None,
                "review_timeout": "24h",
                "remind_before": "4h",
            },
        }
    ]
    page = await app_client.get(f"/chat/{conversation_id}")
    assert "its card is in the conversation" in page.text and run_ids(page.text) == [run_id]


async def test_dismiss_and_invalid_proposals(app_client, pool, model):
    await signed_in(app_client, pool)
    # Only the chat's request offers tools: a model call of some other run in the shared test
    # database cannot take this answer first.
    model.handler = lambda request: (
        ToolCalls([PROPOSAL], text="Maybe a workflow?")
        if (request.body or {}).get("tools")
        else echo(request)
    )
    conversation_id, stream_url = await start_chat(app_client, "Reviewed report please")
    await app_client.get(stream_url)
    message = await message_row(pool, conversation_id)
    assert message["proposal"] is not None, message  # its status and error say why not
    model.handler = echo
    dismissed = await app_client.post(
        f"/chat/proposals/{message['id']}/dismiss", headers=htmx(await token(app_client))
    )
    assert "Not started." in dismissed.text
    assert (await message_row(pool, conversation_id))["proposal"]["status"] == "dismissed"

    model.script(
        ToolCalls([Call("propose_workflow", {"workflow": "selftest", "input": {}})], text="Hmm."),
        ToolCalls(
            [Call("propose_workflow", {"workflow": "content-generation", "input": {"prompt": ""}})]
        ),
    )
    for text in ("one", "two"):
        other_id, stream = await start_chat(app_client, text)
        await app_client.get(stream)
        assert (await message_row(pool, other_id))[
            "proposal"
        ] is None  # not offered: hidden workflow, bad input


async def test_an_endpoint_that_refuses_tools_is_asked_again_without_them(app_client, pool, model):
    await signed_in(app_client, pool)

    # Answered by content, not by order: a workflow still running from an earlier test may call the
    # shared model server meanwhile.
    def refuse_tools(request):
        if request.last_user_message != "Hello":
            return Reply("Echo")
        return (
            Failure(400, "tools are not supported")
            if "tools" in request.body
            else Reply("Plain answer.")
        )

    model.handler = refuse_tools
    conversation_id, stream_url = await start_chat(app_client, "Hello")
    end = parse_sse((await app_client.get(stream_url)).text)[-1][1]
    assert "Plain answer." in end
    chat = [r for r in model.requests if r.last_user_message == "Hello"]
    assert "tools" in chat[0].body and "tools" not in chat[1].body


async def test_the_offline_model_proposes_on_a_clear_request(model_settings, database_url, pool):
    from app.web.app import create_app

    forget_ip_limits(database_url)
    settings = dataclasses.replace(model_settings, openai_base_url=None, openai_api_key=None)
    offline = LLM.from_settings(settings, offline_delay=0)
    app = create_app(settings, database_url, run_worker=False, llm=offline)
    async with AsyncTestClient(app) as client:
        client.follow_redirects = False
        await signed_in(client, pool)
        conversation_id, stream_url = await start_chat(
            client, "Please write a reviewed report about urban bees"
        )
        end = parse_sse((await client.get(stream_url)).text)[-1][1]
        assert "Start workflow" in end and "That sounds like a job for a workflow" in end
        proposal = (await message_row(pool, conversation_id))["proposal"]
        assert proposal["workflow"] == "content-generation"
        assert proposal["input"]["prompt"] == "Please write a reviewed report about urban bees"
        _, plain_stream = await start_chat(client, "Tell me about bees")
        assert "Start workflow" not in parse_sse((await client.get(plain_stream)).text)[-1][1]
