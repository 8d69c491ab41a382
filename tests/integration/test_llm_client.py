"""The real `openai` client, built by app.core.llm, against the scripted model server."""

import asyncio
import time

import pytest

from app.core.llm import LLM, ModelError
from tests.support.model_server import Call, Failure, Hang, Reply, ToolCalls
from tests.support.waiting import wait_for

USER = [{"role": "user", "content": "hello"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "search the web",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
]


@pytest.fixture
def llm(model_settings):
    return LLM.from_settings(model_settings, timeout=1.0)


async def test_streaming_yields_each_chunk_then_the_usage_and_model(llm, model):
    model.script(Reply("The quick brown fox", tokens_in=17, tokens_out=4, model="gpt-test"))
    async with llm.stream(USER) as reply:
        pieces = [piece async for piece in reply]
    assert pieces == ["The ", "quick ", "brown ", "fox"]
    result = reply.completion
    assert (result.text, result.tokens_in, result.tokens_out, result.model) == (
        "The quick brown fox",
        17,
        4,
        "gpt-test",
    )
    request = model.requests[-1]
    assert (
        request.stream
        and request.body["model"] == "scripted-model"
        and request.body["messages"] == USER
    )
    assert request.headers["authorization"] == "Bearer test-key"


async def test_streaming_delivers_chunks_as_they_arrive(llm, model):
    model.script(Reply("a b c d", delay=0.15))
    arrivals = []
    started = time.monotonic()
    async with llm.stream(USER) as reply:
        async for _ in reply:
            arrivals.append(time.monotonic() - started)
    assert arrivals[-1] - arrivals[0] > 0.35  # each chunk as it came, not buffered until the end


async def test_complete_returns_text_tool_calls_and_tokens(llm, model):
    model.script(
        ToolCalls(
            [Call("search", {"q": "baton"}, id="call_9")],
            text="Let me look.",
            tokens_in=40,
            tokens_out=9,
        )
    )
    result = await llm.complete(USER, tools=TOOLS, model="other-model")
    assert result.text == "Let me look."
    assert [(c.id, c.name, c.parsed_arguments()) for c in result.tool_calls] == [
        ("call_9", "search", {"q": "baton"})
    ]
    assert (result.tokens_in, result.tokens_out, result.finish_reason) == (40, 9, "tool_calls")
    body = model.requests[-1].body
    assert body["model"] == "other-model" and body["tools"] == TOOLS and not body.get("stream")


async def test_tool_calls_also_arrive_through_a_stream(llm, model):
    model.script(ToolCalls([Call("search", {"q": "x"}), Call("fetch", '{"url": "https://a"}')]))
    async with llm.stream(USER) as reply:
        assert [piece async for piece in reply] == []
    assert [(c.name, c.parsed_arguments()) for c in reply.completion.tool_calls] == [
        ("search", {"q": "x"}),
        ("fetch", {"url": "https://a"}),
    ]


async def test_complete_plain_text(llm, model):
    model.script(Reply("Just text.", tokens_in=3, tokens_out=2))
    result = await llm.complete(USER, max_tokens=50, temperature=0.2)
    assert (result.text, result.tool_calls, result.tokens_in, result.tokens_out) == (
        "Just text.",
        (),
        3,
        2,
    )
    assert model.requests[-1].body["max_tokens"] == 50


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (Failure(401), "auth"),
        (Failure(429, retry_after=5), "rate_limited"),
        (Failure(500), "server"),
        (Failure(503), "server"),
        (Hang(), "timeout"),
    ],
)
async def test_endpoint_failures_become_model_errors(llm, model, answer, kind):
    for call in ("stream", "complete"):
        model.script(answer)
        with pytest.raises(ModelError) as caught:
            if call == "stream":
                async with llm.stream(USER) as reply:
                    [piece async for piece in reply]
            else:
                await llm.complete(USER)
        assert caught.value.kind == kind
    if kind == "rate_limited":
        assert caught.value.retry_after == 5


async def test_a_stream_that_stalls_midway_times_out_keeping_what_arrived(llm, model):
    model.script(Reply("one two three four", hang_after=2))
    reply = None
    with pytest.raises(ModelError) as caught:
        async with llm.stream(USER) as reply:
            async for _ in reply:
                pass
    assert caught.value.kind == "timeout"
    assert reply.completion.text == "one two "


async def test_unreachable_endpoint(model_settings):
    import dataclasses

    from tests.support.live_server import free_port

    settings = dataclasses.replace(
        model_settings, openai_base_url=f"http://127.0.0.1:{free_port()}/v1"
    )
    llm = LLM.from_settings(settings, timeout=1.0)
    with pytest.raises(ModelError) as caught:
        await llm.complete(USER)
    assert caught.value.kind == "unreachable"


async def test_cancelling_a_stream_closes_the_connection(llm, model):
    model.script(Reply("a b c d e f g h", delay=0.2))
    received = []

    async def consume():
        async with llm.stream(USER) as reply:
            async for chunk in reply:
                received.append(chunk)

    task = asyncio.create_task(consume())
    await wait_for(lambda: received, what="the first chunk")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for(
        lambda: model.requests[-1].ended, what="the model server to be done with the call"
    )
    assert model.requests[-1].completed is False
