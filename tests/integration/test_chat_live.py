"""The live hub, and replies across web processes: a Stop or a reload that lands on another
process than the one writing the reply. Each app below runs in its own thread and event loop,
with its own pool, hub and replies, as separate web processes would."""

import asyncio
import contextlib
import time

import httpx
import psycopg
from litestar.testing import AsyncTestClient

from app.web.live import HubClosed, LiveHub, publish
from app.web.live.hub import APPLICATION_NAME
from tests.support.fixtures import make_test_llm
from tests.support.live_server import LiveServer
from tests.support.model_server import Reply
from tests.support.waiting import wait_for
from tests.support.web import (
    SyncAdapter,
    htmx,
    parse_sse,
    reply_written,
    sign_up,
    start_chat,
    token,
)


async def next_event(subscription, timeout=5.0):
    event = await subscription.next(timeout=timeout)
    assert event is not None, "no event arrived"
    return event


async def test_events_reach_only_the_subscribers_of_their_user(database_url, pool):
    hub = LiveHub(database_url)
    await hub.start()
    try:
        async with hub.subscribe(1) as mine, hub.subscribe(2) as theirs:
            async with pool.connection() as conn:
                await publish(conn, 2, "test.ping", n=1)
                await publish(conn, 1, "test.ping", n=2)
            assert await next_event(mine) == {"user_id": 1, "kind": "test.ping", "n": 2}
            assert await next_event(theirs) == {"user_id": 2, "kind": "test.ping", "n": 1}
            assert await mine.next(timeout=0.2) is None
    finally:
        await hub.stop()


async def test_events_are_delivered_at_commit(database_url, pool):
    hub = LiveHub(database_url)
    await hub.start()
    try:
        async with hub.subscribe(7) as events, pool.connection() as conn:
            async with conn.transaction():
                await publish(conn, 7, "test.after_commit")
                assert await events.next(timeout=0.3) is None
            assert (await next_event(events))["kind"] == "test.after_commit"
    finally:
        await hub.stop()


async def test_the_hub_reconnects_when_its_connection_drops(database_url, pool):
    hub = LiveHub(database_url)
    await hub.start()
    try:
        async with hub.subscribe(3) as events:
            async with pool.connection() as conn:
                killed = await (
                    await conn.execute(
                        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity "
                        "WHERE application_name = %s AND datname = current_database()",
                        (APPLICATION_NAME,),
                    )
                ).fetchone()
            assert killed["n"] >= 1
            assert (await next_event(events))["kind"] == "live.reconnected"
            async with pool.connection() as conn:
                await publish(conn, 3, "test.after_reconnect")
            assert (await next_event(events))["kind"] == "test.after_reconnect"
    finally:
        await hub.stop()


async def test_closing_the_hub_ends_every_subscription(database_url):
    hub = LiveHub(database_url)
    await hub.start()
    async with hub.subscribe(4) as events:
        reader = asyncio.create_task(anext(aiter(events), "ended"))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await hub.stop()
        assert await asyncio.wait_for(reader, 1) == "ended" and time.monotonic() - started < 1
        with contextlib.suppress(HubClosed):
            await events.next(timeout=0.1)
            raise AssertionError("next() after close should raise HubClosed")


async def app_process(model_settings, database_url):
    from app.web.app import create_app

    client = AsyncTestClient(
        create_app(
            model_settings, database_url, run_worker=False, llm=make_test_llm(model_settings)
        )
    )
    await client.__aenter__()
    client.follow_redirects = False
    return client


async def test_stop_pressed_on_another_process_stops_the_reply(
    app_client, model, model_settings, database_url, pool
):
    await sign_up(app_client)
    model.script(Reply("word " * 300, delay=0.02))
    conversation_id, stream_url = await start_chat(app_client, "Write a lot")
    message_id = int(stream_url.split("/")[-2])
    other = await app_process(model_settings, database_url)
    try:
        other.cookies = app_client.cookies  # the same browser, load-balanced to another process
        await wait_for(lambda: reply_written(pool, message_id), what="the reply's first words")
        pressed = time.monotonic()
        stop = await other.post(
            f"/chat/{conversation_id}/messages/{message_id}/stop", headers=htmx(await token(other))
        )
        assert stop.status_code == 204
        end = parse_sse((await app_client.get(stream_url)).text)[-1]
        stopped_after = time.monotonic() - pressed
    finally:
        await other.__aexit__(None, None, None)
    assert end[0] == "end" and "Stopped" in end[1]
    assert stopped_after < 1.5
    async with pool.connection() as conn:
        reply = await (
            await conn.execute("SELECT status, content FROM messages WHERE id = %s", (message_id,))
        ).fetchone()
    assert reply["status"] == "stopped" and 0 < len(reply["content"]) < len("word " * 300)


async def test_a_reload_onto_another_process_follows_the_reply_to_its_end(
    app_client, model, model_settings, database_url, pool
):
    await sign_up(app_client)
    text = "".join(f"w{i} " for i in range(60))
    model.script(Reply(text, delay=0.04))
    conversation_id, stream_url = await start_chat(app_client, "Long one")
    other = await app_process(model_settings, database_url)
    try:
        other.cookies = app_client.cookies
        await wait_for(
            lambda: reply_written(pool, int(stream_url.split("/")[-2])),
            what="the reply's first words",
        )
        events = parse_sse((await other.get(stream_url)).text)
    finally:
        await other.__aexit__(None, None, None)
    texts = [data for name, data in events if name == "text"]
    assert len(texts) >= 2  # progress arrived while it was written elsewhere
    assert len(texts[0]) < len(text) and events[-1][0] == "end" and "w59" in events[-1][1]


async def test_a_reply_whose_process_died_is_closed_as_interrupted(app_client, pool):
    await sign_up(app_client)
    conversation_id, stream_url = await start_chat(app_client, "hi")
    parse_sse((await app_client.get(stream_url)).text)
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, updated_at) "
                "VALUES (%s, 'assistant', 'half a rep', 'streaming', now() - interval '5 minutes') RETURNING id",
                (conversation_id,),
            )
        ).fetchone()
    events = parse_sse(
        (await app_client.get(f"/chat/{conversation_id}/messages/{row['id']}/stream")).text
    )
    assert (
        events[-1][0] == "end" and "interrupted" in events[-1][1] and "half a rep" in events[-1][1]
    )
    assert "Retry" in events[-1][1]


def test_open_streams_end_promptly_when_the_server_stops(model, model_settings, database_url, pool):
    """Shutting down ends the SSE responses and keeps the partial reply (marked interrupted)."""
    from app.web.app import create_app

    model.script(Reply("word " * 500, delay=0.05))
    server = LiveServer(
        create_app(
            model_settings, database_url, run_worker=False, llm=make_test_llm(model_settings)
        )
    ).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            asyncio.run(sign_up(SyncAdapter(client)))
            conversation_id, stream_url = asyncio.run(
                start_chat(SyncAdapter(client), "Write forever")
            )
            with client.stream("GET", stream_url) as stream:
                lines = stream.iter_lines()
                assert any(line.startswith("event: token") for line in _take(lines, 20))
                started = time.monotonic()
                server.stop()
                rest = list(lines)  # returns when the server closes the stream
                took = time.monotonic() - started
    finally:
        server.stop()
    assert took < 3, f"the stream stayed open {took:.1f}s after shutdown began"
    assert not any("event: end" in line for line in rest)
    message_id = int(stream_url.split("/")[-2])
    with psycopg.connect(database_url) as conn:
        status, error, content = conn.execute(
            "SELECT status, error, content FROM messages WHERE id = %s", (message_id,)
        ).fetchone()
    assert status == "error" and "interrupted" in error and content.startswith("word word")


def _take(lines, n):
    for _, line in zip(range(n), lines, strict=False):
        yield line
