"""SSE for the dashboard: tell a page that one of its runs changed; the page re-reads its fragment.

Events carry no HTML: `runs` (any of the user's runs changed) or `run` (the watched run changed).
Pages react with `hx-trigger="sse:runs delay:200ms"` (a debounce: a burst of step events costs one
re-read, and the last change is never dropped, as it would be with `throttle`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.web.live import HubClosed, LiveHub

PING_S = 15.0


def sse(event: str, data: str = "") -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


async def run_changes(hub: LiveHub, user_id: int, *, run_id: str | None = None) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"
    try:
        async with hub.subscribe(user_id) as events:
            # Whatever changed between rendering the page and subscribing: re-read once now.
            yield sse("run" if run_id else "runs")
            while True:
                event = await events.next(timeout=PING_S)
                if event is None:
                    yield b": ping\n\n"
                elif event.get("kind") == "live.reconnected":
                    yield sse("run" if run_id else "runs")
                elif str(event.get("kind", "")).startswith("run.") and (run_id is None or event.get("run_id") == run_id):
                    yield sse("run" if run_id else "runs", str(event.get("event_id", "")))
    except HubClosed:
        return
