"""The schedule of a `scheduled-publishing` run: a table the owner edits and the run reads.

Why a table (and not the hook's answer): the owner edits posts at any time — during the review
and while the run waits for the next post — and the run must act on the latest text and time.
Every edit bumps `publishing_schedules.version` under the schedule's row lock; the run reads the
schedule in `run.transaction` steps, so the journal records which version it planned with and
which text it published. A post is claimed (`scheduled` → `publishing`) in one statement before
it is sent, after which edits are refused: the published text is exactly the claimed one.

While the run waits for a post it holds a webhook hook whose timeout is the post's time; an edit
resolves that hook in the edit's own transaction, so the run wakes at once and plans again
(a post moved earlier, deleted, or the remaining posts cancelled take effect immediately).

An edit can also land after the run read the schedule but before its hook exists: nothing to
resolve yet. So the run starts its wait only if the schedule still has the version it planned
with (`unchanged_since`, checked under the schedule's row lock in the transaction that creates
the hook). Edits take the same lock, so every edit is either seen by that check (the run plans
again instead of waiting) or finds the committed hook and resolves it.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from app.engine.errors import EngineError
from app.engine.hooks import resolve_hook

MAX_POST = 500  # Mastodon's default limit; the webhook gets the same posts

INSERT_SCHEDULE = """
INSERT INTO publishing_schedules (run_id, owner_id, connector_id, connector_name, timezone)
VALUES (%(run_id)s, %(owner_id)s, %(connector_id)s, %(connector_name)s, %(timezone)s)
ON CONFLICT (run_id) DO NOTHING
"""
INSERT_POST = "INSERT INTO publishing_posts (run_id, body, publish_at) VALUES (%(run_id)s, %(body)s, %(publish_at)s)"
GET_SCHEDULE = "SELECT * FROM publishing_schedules WHERE run_id = %(run_id)s"
# The run's reads share-lock the row: an edit in flight commits first, so the version read is the
# version of the posts read next.
READ_SCHEDULE = "SELECT * FROM publishing_schedules WHERE run_id = %(run_id)s FOR SHARE"
LOCK_SCHEDULE = """
SELECT s.*, r.status AS run_status FROM publishing_schedules s JOIN runs r ON r.id = s.run_id
WHERE s.run_id = %(run_id)s AND s.owner_id = %(owner_id)s FOR UPDATE OF s
"""
BUMP = """
UPDATE publishing_schedules SET version = version + 1, updated_at = now() WHERE run_id = %(run_id)s
RETURNING version
"""
SET_STATE = """
UPDATE publishing_schedules SET state = %(state)s, updated_at = now() WHERE run_id = %(run_id)s
RETURNING version
"""
POSTS = """
SELECT id, body, publish_at, status, published_at, remote_id, remote_url, error, metrics,
       row_number() OVER (ORDER BY publish_at, id) AS number
FROM publishing_posts WHERE run_id = %(run_id)s AND status <> 'deleted' ORDER BY publish_at, id
"""
# The next post to publish: the earliest still scheduled, with its place in the whole list.
NEXT_POST = """
WITH numbered AS (
    SELECT id, body, publish_at, status, row_number() OVER (ORDER BY publish_at, id) AS number,
           count(*) OVER () AS total
    FROM publishing_posts WHERE run_id = %(run_id)s AND status <> 'deleted'
)
SELECT id, body, publish_at, number, total, now() AS db_now FROM numbered
WHERE status = 'scheduled' ORDER BY publish_at, id LIMIT 1
"""
CLAIM = """
UPDATE publishing_posts SET status = 'publishing', updated_at = now()
WHERE id = %(id)s AND run_id = %(run_id)s AND status = 'scheduled' AND publish_at <= now()
RETURNING id, body, publish_at
"""
PUBLISHED = """
UPDATE publishing_posts SET status = 'published', published_at = now(), remote_id = %(remote_id)s,
       remote_url = %(remote_url)s, idempotency_key = %(key)s, error = NULL, updated_at = now()
WHERE id = %(id)s AND run_id = %(run_id)s
"""
SKIPPED = """
UPDATE publishing_posts SET status = 'skipped', error = %(error)s, updated_at = now()
WHERE id = %(id)s AND run_id = %(run_id)s AND status IN ('scheduled', 'publishing')
"""
# A post whose publish failed stays claimed (a retry sends the same text); its error says it failed.
FAILED = """
UPDATE publishing_posts SET error = %(error)s, updated_at = now()
WHERE id = %(id)s AND run_id = %(run_id)s AND status = 'publishing'
"""
CANCEL_REMAINING = """
UPDATE publishing_posts SET status = 'cancelled', updated_at = now()
WHERE run_id = %(run_id)s AND status IN ('scheduled', 'publishing') RETURNING id
"""
# The owner's cancel leaves a post being published alone (the run records its outcome).
CANCEL_SCHEDULED = """
UPDATE publishing_posts SET status = 'cancelled', updated_at = now()
WHERE run_id = %(run_id)s AND status = 'scheduled' RETURNING id
"""
PUBLISHED_POSTS = """
SELECT id, remote_id FROM publishing_posts WHERE run_id = %(run_id)s AND status = 'published' ORDER BY publish_at, id
"""
SAVE_METRICS = (
    "UPDATE publishing_posts SET metrics = %(metrics)s WHERE id = %(id)s AND run_id = %(run_id)s"
)
EDIT_POST = """
UPDATE publishing_posts SET body = coalesce(%(body)s, body), publish_at = coalesce(%(publish_at)s, publish_at),
       updated_at = now()
WHERE id = %(id)s AND run_id = %(run_id)s AND status = 'scheduled' RETURNING id
"""
DELETE_POST = """
UPDATE publishing_posts SET status = 'deleted', updated_at = now()
WHERE id = %(id)s AND run_id = %(run_id)s AND status = 'scheduled' RETURNING id
"""
# Reordering swaps the time slots of two neighbouring scheduled posts.
EARLIER = """
SELECT id, publish_at FROM publishing_posts
WHERE run_id = %(run_id)s AND status = 'scheduled' AND (publish_at, id) < (%(at)s, %(id)s)
ORDER BY publish_at DESC, id DESC LIMIT 1
"""
LATER = """
SELECT id, publish_at FROM publishing_posts
WHERE run_id = %(run_id)s AND status = 'scheduled' AND (publish_at, id) > (%(at)s, %(id)s)
ORDER BY publish_at, id LIMIT 1
"""
POST = (
    "SELECT id, publish_at, status FROM publishing_posts WHERE id = %(id)s AND run_id = %(run_id)s"
)
SET_TIME = "UPDATE publishing_posts SET publish_at = %(at)s, updated_at = now() WHERE id = %(id)s"
WAITING_WAKE_HOOK = """
SELECT token FROM hooks WHERE run_id = %(run_id)s AND status = 'waiting' AND kind = 'webhook'
"""


class ScheduleLocked(Exception):
    """The schedule or the post can no longer be changed; the message says why."""


def _iso(value: datetime) -> str:
    return value.isoformat()


# -- the run's side ----------------------------------------------------------------------------


async def create_schedule(
    conn: AsyncConnection,
    *,
    run_id: Any,
    owner_id: int,
    connector: dict,
    timezone: str,
    posts: list[dict],
) -> dict:
    """Once per run (inside `run.transaction`): the schedule and its posts."""
    await conn.execute(
        INSERT_SCHEDULE,
        {
            "run_id": run_id,
            "owner_id": owner_id,
            "connector_id": connector["id"],
            "connector_name": connector["name"],
            "timezone": timezone,
        },
    )
    async with conn.cursor() as cur:
        await cur.executemany(
            INSERT_POST,
            [{"run_id": run_id, "body": p["body"], "publish_at": p["publish_at"]} for p in posts],
        )
    return {"posts": len(posts)}


async def set_state(conn: AsyncConnection, run_id: Any, state: str) -> dict:
    row = await (await conn.execute(SET_STATE, {"run_id": run_id, "state": state})).fetchone()
    return {"version": row["version"], "state": state}


async def plan_next(conn: AsyncConnection, run_id: Any) -> dict:
    """What the run does next, as of now: the version it read and the next post (None: done)."""
    version = (await (await conn.execute(READ_SCHEDULE, {"run_id": run_id})).fetchone())["version"]
    row = await (await conn.execute(NEXT_POST, {"run_id": run_id})).fetchone()
    if row is None:
        return {"version": version, "post": None}
    post = {
        "id": row["id"],
        "body": row["body"],
        "publish_at": _iso(row["publish_at"]),
        "number": row["number"],
        "total": row["total"],
    }
    wait_s = (row["publish_at"] - row["db_now"]).total_seconds()
    claimed = None
    if wait_s <= 0:
        # Due: take it for publishing in this same transaction. From here edits are refused, so
        # the text journaled here is the text that goes out.
        got = await (await conn.execute(CLAIM, {"id": row["id"], "run_id": run_id})).fetchone()
        claimed = got and {
            "id": got["id"],
            "body": got["body"],
            "publish_at": _iso(got["publish_at"]),
        }
    return {"version": version, "wait_s": max(wait_s, 0.0), "post": post, "claimed": claimed}


async def unchanged_since(conn: AsyncConnection, run_id: Any, version: int) -> bool:
    """In the transaction that starts the run's wait: has nobody changed the schedule since the run
    planned with `version`? The share lock holds off edits until the wait's hook is committed, so
    the edit finds it; an edit that committed before is seen here."""
    row = await (await conn.execute(READ_SCHEDULE, {"run_id": run_id})).fetchone()
    return row is not None and row["version"] == version


async def published_posts(conn: AsyncConnection, run_id: Any) -> list[dict]:
    rows = await (await conn.execute(PUBLISHED_POSTS, {"run_id": run_id})).fetchall()
    return [{"id": r["id"], "remote_id": r["remote_id"]} for r in rows]


async def mark_published(conn: AsyncConnection, run_id: Any, post_id: int, result: dict) -> dict:
    await conn.execute(
        PUBLISHED,
        {
            "id": post_id,
            "run_id": run_id,
            "remote_id": result.get("remote_id"),
            "remote_url": result.get("url"),
            "key": result.get("idempotency_key"),
        },
    )
    return {"published": post_id}


async def mark_skipped(conn: AsyncConnection, run_id: Any, post_id: int, error: str) -> dict:
    await conn.execute(SKIPPED, {"id": post_id, "run_id": run_id, "error": error[:500]})
    await conn.execute(BUMP, {"run_id": run_id})
    return {"skipped": post_id}


async def mark_failed(conn: AsyncConnection, run_id: Any, post_id: int, error: str | None) -> dict:
    """Record why the post could not be published (None: it is being tried again)."""
    await conn.execute(FAILED, {"id": post_id, "run_id": run_id, "error": error and error[:500]})
    return {"failed": post_id, "error": error is not None}


async def cancel_remaining(conn: AsyncConnection, run_id: Any) -> int:
    rows = await (await conn.execute(CANCEL_REMAINING, {"run_id": run_id})).fetchall()
    await conn.execute(BUMP, {"run_id": run_id})
    return len(rows)


async def save_metrics(conn: AsyncConnection, run_id: Any, metrics: dict[str, dict]) -> dict:
    async with conn.cursor() as cur:
        await cur.executemany(
            SAVE_METRICS,
            [{"id": int(pid), "run_id": run_id, "metrics": Jsonb(m)} for pid, m in metrics.items()],
        )
    return {"posts": len(metrics)}


async def list_posts(conn: AsyncConnection, run_id: Any) -> list[dict]:
    return await (await conn.execute(POSTS, {"run_id": run_id})).fetchall()


async def get_schedule(conn: AsyncConnection, run_id: Any) -> dict | None:
    return await (await conn.execute(GET_SCHEDULE, {"run_id": run_id})).fetchone()


# -- the owner's side (the editor) -------------------------------------------------------------


async def _locked(conn: AsyncConnection, run_id: UUID, owner_id: int) -> dict:
    schedule = await (
        await conn.execute(LOCK_SCHEDULE, {"run_id": run_id, "owner_id": owner_id})
    ).fetchone()
    if schedule is None:
        raise LookupError("no such schedule")
    if schedule["state"] not in ("review", "active") or schedule["run_status"] in (
        "completed",
        "failed",
        "cancelled",
    ):
        raise ScheduleLocked("This schedule has ended; nothing can be changed any more.")
    return schedule


async def _changed(conn: AsyncConnection, schedule: dict) -> None:
    """Bump the version and, while the run waits for a post, wake it to plan again. (A run about
    to wait sees the new version instead: `unchanged_since`.)"""
    await conn.execute(BUMP, {"run_id": schedule["run_id"]})
    if schedule["state"] != "active":
        return
    hook = await (await conn.execute(WAITING_WAKE_HOOK, {"run_id": schedule["run_id"]})).fetchone()
    if hook:
        # If the wait ended meanwhile, the run reads the schedule anyway before it publishes.
        with contextlib.suppress(EngineError):
            await resolve_hook(
                conn,
                hook["token"],
                "deliver",
                {"reason": "schedule changed"},
                decided_by="schedule edit",
                owner_id=schedule["owner_id"],
            )


async def edit_post(
    conn: AsyncConnection,
    *,
    run_id: UUID,
    owner_id: int,
    post_id: int,
    body: str | None,
    publish_at: datetime | None,
) -> None:
    async with conn.transaction():
        schedule = await _locked(conn, run_id, owner_id)
        row = await (
            await conn.execute(
                EDIT_POST, {"id": post_id, "run_id": run_id, "body": body, "publish_at": publish_at}
            )
        ).fetchone()
        if row is None:
            raise ScheduleLocked(
                "This post is being published or already went out; it can't be changed."
            )
        await _changed(conn, schedule)


async def delete_post(conn: AsyncConnection, *, run_id: UUID, owner_id: int, post_id: int) -> None:
    async with conn.transaction():
        schedule = await _locked(conn, run_id, owner_id)
        if (
            await (await conn.execute(DELETE_POST, {"id": post_id, "run_id": run_id})).fetchone()
        ) is None:
            raise ScheduleLocked(
                "This post is being published or already went out; it can't be deleted."
            )
        await _changed(conn, schedule)


async def move_post(
    conn: AsyncConnection, *, run_id: UUID, owner_id: int, post_id: int, up: bool
) -> None:
    async with conn.transaction():
        schedule = await _locked(conn, run_id, owner_id)
        post = await (await conn.execute(POST, {"id": post_id, "run_id": run_id})).fetchone()
        if post is None or post["status"] != "scheduled":
            raise ScheduleLocked(
                "This post is being published or already went out; it can't be moved."
            )
        other = await (
            await conn.execute(
                EARLIER if up else LATER,
                {"run_id": run_id, "id": post_id, "at": post["publish_at"]},
            )
        ).fetchone()
        if other is None:
            return  # already first (or last): nothing to do
        await conn.execute(SET_TIME, {"id": post_id, "at": other["publish_at"]})
        await conn.execute(SET_TIME, {"id": other["id"], "at": post["publish_at"]})
        await _changed(conn, schedule)


async def cancel_remaining_by_owner(conn: AsyncConnection, *, run_id: UUID, owner_id: int) -> int:
    async with conn.transaction():
        schedule = await _locked(conn, run_id, owner_id)
        if schedule["state"] != "active":
            raise ScheduleLocked("Approve or reject the schedule first.")
        rows = await (await conn.execute(CANCEL_SCHEDULED, {"run_id": run_id})).fetchall()
        await _changed(conn, schedule)
    return len(rows)
