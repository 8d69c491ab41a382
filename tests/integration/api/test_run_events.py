"""`GET /api/v1/runs/{id}/events`: every event of the run, in order, resumable with Last-Event-ID
with nothing missed or repeated, ending after the final status."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from app.web.app import create_app
from tests.integration.api.conftest import events_of, start, wait_for, waiting_hook
from tests.integration.api.test_api_runs import error_of
from tests.integration.api.workflows import VISIBLE, WEBHOOK
from tests.support.live_server import LiveServer


def parse(body: str) -> list[dict]:
    """SSE text to [{id, event, data}] (comments and retry lines dropped)."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in block.split("\n")
            if ": " in line and not line.startswith(":")
        )
        if "data" in fields:
            events.append(
                {
                    "id": int(fields["id"]),
                    "event": fields["event"],
                    "data": json.loads(fields["data"]),
                }
            )
    return events


async def test_a_finished_runs_stream_replays_every_event_and_ends(api, account, pool, worker):
    run = await start(pool, account, VISIBLE, topic="sse")
    await wait_for(pool, run.id, "completed")
    response = await api.get(f"/api/v1/runs/{run.id}/events", headers=account.headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/event-stream"
    )
    events = parse(response.text)
    stored = await events_of(pool, run.id)
    assert [e["id"] for e in events] == [r["id"] for r in stored]
    assert [e["event"] for e in events] == [r["kind"] for r in stored]
    assert events[0]["data"]["data"] == {"status": "queued"}
    assert events[-1]["event"] == "status" and events[-1]["data"]["data"]["status"] == "completed"
    assert "step_completed" in [e["event"] for e in events]

    middle = events[1]["id"]
    resumed = parse(
        (
            await api.get(
                f"/api/v1/runs/{run.id}/events",
                headers=account.headers | {"Last-Event-ID": str(middle)},
            )
        ).text
    )
    assert resumed == events[2:]
    at_the_end = parse(
        (
            await api.get(
                f"/api/v1/runs/{run.id}/events",
                headers=account.headers | {"Last-Event-ID": str(events[-1]["id"])},
            )
        ).text
    )
    assert at_the_end == []
    junk = parse(
        (
            await api.get(
                f"/api/v1/runs/{run.id}/events",
                headers=account.headers | {"Last-Event-ID": "yesterday"},
            )
        ).text
    )
    assert junk == events  # an id we did not send: start from the beginning


async def read_until(lines, stop) -> list[dict]:
    """Read SSE events from a live stream until `stop(event)` is true (inclusive)."""
    block, events = [], []
    async for line in lines:
        if line:
            block.append(line)
            continue
        parsed = parse("\n".join(block))
        block = []
        for event in parsed:
            events.append(event)
            if stop(event):
                return events
    return events


def live_server(settings, database_url) -> LiveServer:
    return LiveServer(create_app(settings, database_url, run_worker=False)).start()


async def test_a_live_stream_resumes_after_a_disconnect_without_gaps_or_duplicates(
    account, pool, worker, settings, database_url
):
    server = await asyncio.to_thread(live_server, settings, database_url)
    try:
        run = await start(pool, account, WEBHOOK)
        url = f"{server.url}/api/v1/runs/{run.id}/events"
        async with httpx.AsyncClient(timeout=10, headers=account.headers) as client:
            async with client.stream("GET", url) as stream:
                assert stream.status_code == 200
                first = await read_until(
                    stream.aiter_lines(), lambda e: e["event"] == "hook_waiting"
                )
            # Disconnected. Meanwhile the webhook arrives and the run goes on to the end.
            hook = await waiting_hook(pool, run.id)
            delivered = await client.post(
                f"{server.url}/hooks/{hook['token']}", json={"late": True}
            )
            assert delivered.status_code == 200
            await asyncio.sleep(0.05)  # let some of the rest happen before reconnecting, some after
            async with client.stream(
                "GET", url, headers={"Last-Event-ID": str(first[-1]["id"])}
            ) as stream:
                rest = await read_until(stream.aiter_lines(), lambda e: False)  # ends by itself
    finally:
        await asyncio.to_thread(server.stop)
    received = [e["id"] for e in first + rest]
    stored = await events_of(pool, run.id)
    assert received == [r["id"] for r in stored]  # everything, once, in order
    assert rest[-1]["event"] == "status" and rest[-1]["data"]["data"]["status"] == "completed"
    assert {"hook_resolved", "progress"} <= {e["event"] for e in rest}


async def test_a_stream_follows_a_waiting_run_live(
    api, account, pool, worker, settings, database_url
):
    server = await asyncio.to_thread(live_server, settings, database_url)
    try:
        run = await start(pool, account, WEBHOOK)
        hook = await waiting_hook(pool, run.id)
        url = f"{server.url}/api/v1/runs/{run.id}/events"
        async with (
            httpx.AsyncClient(timeout=10, headers=account.headers) as client,
            client.stream("GET", url) as stream,
        ):
            lines = stream.aiter_lines()
            before = await read_until(lines, lambda e: e["data"]["data"].get("status") == "waiting")
            assert (
                await client.post(f"{server.url}/hooks/{hook['token']}", json={})
            ).status_code == 200
            after = await read_until(lines, lambda e: False)
    finally:
        await asyncio.to_thread(server.stop)
    assert [e["event"] for e in after][0] == "hook_resolved"
    assert [e["id"] for e in before + after] == [r["id"] for r in await events_of(pool, run.id)]


async def test_the_events_of_another_users_run_are_404(api, account, pool):
    from tests.integration.api.conftest import new_account

    other = await new_account(pool)
    run = await start(pool, other, VISIBLE, topic="theirs")
    error_of(
        await api.get(f"/api/v1/runs/{run.id}/events", headers=account.headers), 404, "not_found"
    )


async def test_open_streams_end_when_the_server_shuts_down(
    account, pool, worker, settings, database_url
):
    server = await asyncio.to_thread(live_server, settings, database_url)
    run = await start(pool, account, WEBHOOK)
    await waiting_hook(pool, run.id)
    async with (
        httpx.AsyncClient(timeout=10, headers=account.headers) as client,
        client.stream("GET", f"{server.url}/api/v1/runs/{run.id}/events") as stream,
    ):
        lines = stream.aiter_lines()
        await read_until(lines, lambda e: e["data"]["data"].get("status") == "waiting")
        stopping = asyncio.create_task(asyncio.to_thread(server.stop))
        began = time.monotonic()
        assert (
            await read_until(lines, lambda e: False) == []
        )  # returns when the server closes the stream
        assert time.monotonic() - began < 3
        await stopping
