"""The page's live channel: one SSE connection per page (opened by templates/layout.html) that
tells the page what changed, so the parts showing it re-read themselves. Events carry no HTML:

    run-<run id>    that run changed (its cards listen: hx-trigger="sse:run-<id>")
    runs            one of the user's runs changed (the /workflows list)
    approvals       the set of waiting hooks may have changed (inbox, nav badge); also for people
                    a hook is assigned to (`approval.changed`, sql/0095_hook_announce.sql)
    notifications   the bell changed
    replay-<id>     that bulk replay moved on (its page listens)
    resync          events may have been missed (the hub reconnected, or the browser did):
                    everything live re-reads

The stream also marks the person present on the page it was opened from (`/live?page=<path>`,
app/web/live/presence.py) for as long as it is open: while someone looks at a run, its notices
reach them on the page and not by e-mail (app/workflows/notices.py).

A burst of engine events (a step ends, the run suspends, a hook starts waiting) is folded into one
event per name, sent COALESCE_S after the first: one re-read instead of five.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

from app.web.live import HubClosed, LiveHub, PresenceBook

PING_S = 15.0
COALESCE_S = 0.12
APPROVAL_KINDS = (
    "run.hook_waiting",
    "run.hook_resolved",
    "run.hook_expired",
    "run.hook_decision",
    "run.status",
)
_ids = itertools.count(1)


def sse(event: str, data: str = "") -> bytes:
    return f"id: {next(_ids)}\nevent: {event}\ndata: {data}\n\n".encode()


def names_for(event: dict) -> list[str]:
    kind = str(event.get("kind", ""))
    if kind == "live.reconnected":
        return ["resync"]
    if kind.startswith("run."):
        names = [f"run-{event.get('run_id')}", "runs"]
        if kind in APPROVAL_KINDS:
            names.append("approvals")
        return names
    if kind.startswith("notification."):
        return ["notifications"]
    if kind.startswith("approval."):  # a hook assigned to this person changed (not their run)
        return ["approvals"]
    if kind.startswith("replay."):  # a bulk replay moved on (app/engine/replays.py)
        return [f"replay-{event.get('replay_id')}"]
    return []


async def page_events(
    hub: LiveHub, user_id: int, *, resume: bool, space_id: int | None = None
) -> AsyncIterator[bytes]:
    """Every connection starts with `resync`: whatever changed between rendering the page and this
    subscription (or while a reconnecting browser, `resume`, was away) is re-read once. With
    `space_id` (the request's space), the runs of the space's other members are followed too."""
    yield b"retry: 2000\n\n"
    try:
        async with hub.subscribe(user_id, space_id=space_id) as events:
            yield sse("resync")
            while True:
                event = await events.next(timeout=PING_S)
                if event is None:
                    yield b": ping\n\n"
                    continue
                pending = dict.fromkeys(names_for(event))
                deadline = time.monotonic() + COALESCE_S
                while (left := deadline - time.monotonic()) > 0:
                    more = await events.next(timeout=left)
                    if more is None:
                        break
                    pending.update(dict.fromkeys(names_for(more)))
                if "resync" in pending:
                    pending = {"resync": None}
                for name in pending:
                    yield sse(name)
                await asyncio.sleep(0)
    except HubClosed:
        return


async def present_while_streaming(
    book: PresenceBook, user_id: int, page: str, events: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    """`events`, with the user marked present on `page` from the first byte to the last."""
    async with book.on_page(user_id, page):
        async for chunk in events:
            yield chunk
