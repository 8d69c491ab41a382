"""A run's events as server-sent events, from the `run_events` view, resumable with Last-Event-ID.

    id: 1234            the run_events id (send it back as Last-Event-ID to resume after it)
    event: status       the event kind: status, step_started, step_completed, progress, hook_waiting, ...
    data: {"kind": "status", "data": {"status": "running"}, "created_at": "...", "run_id": "..."}

No gaps, no duplicates: the stream subscribes to the live hub first, then reads the rows with
id > last sent, and after every notification (or a quiet interval, or a hub reconnect) reads them
again by id. The table is the source of truth; a notification only says "read again", so one that
arrives between the read and the wait is not lost, and one that was missed costs a delay, not an
event. A run's events appear in id order: the engine gives each one its id under the run's row lock,
the rows of `run_event_rows` and the completed steps of the journal alike (a `step_completed` is
its journal row, with an id from the same sequence: sql/0097).

The stream ends after the run's final status event (completed, failed, cancelled), or when the
server shuts down (the hub closes).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from psycopg_pool import AsyncConnectionPool

from app.web.live import HubClosed, LiveHub

FINAL = ("completed", "failed", "cancelled")
PING_S = 15.0
RETRY_MS = 2000
BATCH = 500

# The status first: if it is final, every event of the run (written in the same transactions)
# is committed and the read that follows sees it.
RUN_STATUS = "SELECT status FROM runs WHERE id = %(run_id)s"
EVENTS_AFTER = """
SELECT id, kind, data, created_at FROM run_events
WHERE run_id = %(run_id)s AND id > %(after)s ORDER BY id LIMIT %(limit)s
"""


def sse_event(row: dict, run_id: str) -> bytes:
    payload = {
        "kind": row["kind"],
        "data": row["data"],
        "created_at": row["created_at"].isoformat(),
        "run_id": run_id,
    }
    return f"id: {row['id']}\nevent: {row['kind']}\ndata: {json.dumps(payload, default=str)}\n\n".encode()


async def _read(pool: AsyncConnectionPool, run_id: str, after: int) -> tuple[str, list[dict]]:
    async with pool.connection() as conn:
        run = await (await conn.execute(RUN_STATUS, {"run_id": run_id})).fetchone()
        status = run["status"] if run else "deleted"
        rows = await (
            await conn.execute(EVENTS_AFTER, {"run_id": run_id, "after": after, "limit": BATCH})
        ).fetchall()
    return status, rows


def _concerns(event: dict, run_id: str) -> bool:
    return event.get("kind") == "live.reconnected" or str(event.get("run_id")) == run_id


async def run_events(
    pool: AsyncConnectionPool,
    hub: LiveHub,
    *,
    user_id: int,
    run_id: str,
    last_event_id: int,
    space_id: int | None = None,
) -> AsyncIterator[bytes]:
    """The run must already be authorized for `user_id` in its space `space_id` (the hub delivers
    their own events and, with `space_id`, those of the space's runs, whoever started them)."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    after = last_event_id
    try:
        async with hub.subscribe(user_id, space_id=space_id) as events:
            while True:
                status, rows = await _read(pool, run_id, after)
                for row in rows:
                    yield sse_event(row, run_id)
                    after = row["id"]
                if len(rows) == BATCH:
                    continue  # a long backlog: keep reading before waiting
                if status in FINAL or status == "deleted":
                    return
                while True:
                    event = await events.next(timeout=PING_S)
                    if event is None:
                        yield b": ping\n\n"
                        break  # read again anyway: cheap, and covers a notification missed
                    if _concerns(event, run_id):
                        break
    except HubClosed:
        return


def parse_last_event_id(value: Any) -> int:
    """Last-Event-ID as sent back by a browser or a client (our ids are positive integers). Any
    other value, of any length, is ignored: the stream starts from the run's first event, as for a
    first connection (docs/api.md; the header is not a way to fail the request)."""
    try:
        parsed = int(str(value).strip())
    except (TypeError, ValueError):
        return 0
    return parsed if 0 <= parsed < 2**63 else 0
