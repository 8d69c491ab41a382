"""`run.map`: fan-out to children that run as their own jobs on any worker.

The parent journals the map (function, count, concurrency, limit) with one row per child, queues
the first `concurrency` children and suspends. Each finished child queues the next pending one in
the same transaction; the last one wakes the parent, whose replay collects the results in order.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from app.core import ratelimit
from app.core.sql_queries import load_queries
from app.engine.errors import FatalError, StepFailed, Suspend
from app.engine.jobs import defer_children, wake_run
from app.engine.journal import to_json, write_step
from app.engine.values import RateLimit, RetryPolicy

if TYPE_CHECKING:
    from app.engine.run import Run

log = logging.getLogger("baton.engine.map")

SQL = load_queries(__file__)
INSERT_CHILDREN = SQL["insert_children"]
CHILD_COUNTS = SQL["child_counts"]
CHILD_RESULTS = SQL["child_results"]
LOAD_CHILD = SQL["load_child"]
LOCK_RUN = SQL["lock_run"]
LOCK_MAP = SQL["lock_map"]
FINISH_CHILD = SQL["finish_child"]
RETRY_CHILD = SQL["retry_child"]
NEXT_PENDING = SQL["next_pending"]
MAP_PROGRESS = SQL["map_progress"]


# A child held back by the fan-out's rate limit: the run says so and when the next call may go
# ("waiting for the model rate limit, next call in 12 s"), until a child finishes (MAP_PROGRESS).
SHOW_RATE_WAIT = """
WITH upd AS (
    UPDATE runs SET progress = coalesce(progress, '{}'::jsonb)
                               || jsonb_build_object('rate_wait', jsonb_build_object('until', %(until)s::timestamptz,
                                                                                     'limit', %(limit)s::text)),
                    updated_at = now()
    WHERE id = %(run_id)s AND status = 'running'
      -- the earliest upcoming call is the one to announce; one already past is replaced
      AND (progress->'rate_wait'->>'until' IS NULL OR (progress->'rate_wait'->>'until')::timestamptz < now()
           OR (progress->'rate_wait'->>'until')::timestamptz > %(until)s)
    RETURNING id, owner_id, progress
)
INSERT INTO run_events (run_id, owner_id, kind, data) SELECT id, owner_id, 'progress', progress FROM upd
"""


def function_path(fn: Any) -> str:
    qualname = getattr(fn, "__qualname__", "")
    if not qualname or "<" in qualname:
        raise ValueError("run.map needs a module-level function (children import it by name)")
    return f"{fn.__module__}:{qualname}"


def load_function(path: str) -> Any:
    module, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


async def start_children(
    conn: AsyncConnection,
    run: Run,
    seq: int,
    name: str,
    fn: Any,
    items: Any,
    *,
    concurrency: int,
    limit: RateLimit | None,
    retry: RetryPolicy,
) -> list | None:
    """Journal the map and queue its first children. Returns [] at once for no items, else None."""
    items = [to_json(item) for item in items]
    detail = {
        "fn": function_path(fn),
        "total": len(items),
        "concurrency": max(1, concurrency),
        "limit": {
            "name": limit.name,
            "max_calls": limit.max_calls,
            "per_seconds": limit.per_seconds,
        }
        if limit
        else None,
        "retry": retry.to_json(),
    }
    if not items:
        await write_step(
            conn,
            run_id=run.id,
            owner_id=run.owner_id,
            seq=seq,
            name=name,
            kind="map",
            status="completed",
            output=[],
            detail=detail,
            completed_at=datetime.now(UTC),
            done=1,
            event="step_completed",
        )
        return []
    await write_step(
        conn,
        run_id=run.id,
        owner_id=run.owner_id,
        seq=seq,
        name=name,
        kind="map",
        status="running",
        detail=detail,
        event="map_started",
        event_data={"seq": seq, "name": name, "total": len(items)},
    )
    k = detail["concurrency"]
    await conn.execute(
        INSERT_CHILDREN,
        {"run_id": run.id, "seq": seq, "concurrency": k, "items": [Jsonb(i) for i in items]},
    )
    await defer_children(conn, run.id, seq, list(range(min(k, len(items)))))
    return None


async def collect_children(conn: AsyncConnection, run: Run, seq: int, name: str) -> list:
    """On replay: the results in order once every child is done; else suspend until woken."""
    counts = await (await conn.execute(CHILD_COUNTS, {"run_id": run.id, "seq": seq})).fetchone()
    if counts["open"]:
        raise Suspend()
    rows = await (await conn.execute(CHILD_RESULTS, {"run_id": run.id, "seq": seq})).fetchall()
    failed = [r for r in rows if r["status"] != "completed"]
    now = datetime.now(UTC)
    if failed:
        error = {
            "type": "ChildrenFailed",
            "message": f"{len(failed)} of {len(rows)} items failed",
            "failed": [{"index": r["idx"], **(r["error"] or {})} for r in failed[:50]],
        }
        await write_step(
            conn,
            run_id=run.id,
            owner_id=run.owner_id,
            seq=seq,
            name=name,
            kind="map",
            status="failed",
            error=error,
            completed_at=now,
            event="step_failed",
            event_data={"seq": seq, "name": name, "error": error},
        )
        raise StepFailed(name, error)
    output = [r["output"] for r in rows]
    await write_step(
        conn,
        run_id=run.id,
        owner_id=run.owner_id,
        seq=seq,
        name=name,
        kind="map",
        status="completed",
        output=output,
        completed_at=now,
        attempts=1,
        done=1,
        event="step_completed",
    )
    return output


async def run_child(pool: AsyncConnectionPool, run_id: str, seq: int, idx: int) -> None:
    """Execute one child job. Safe to run twice: only a `queued` child is finished, once."""
    key = {"run_id": run_id, "seq": seq, "idx": idx}
    async with pool.connection() as conn:
        child = await (await conn.execute(LOAD_CHILD, key)).fetchone()
        if child is None or child["status"] != "queued":
            return
        if child["run_status"] in ("completed", "failed", "cancelled") or child["cancel_requested"]:
            await conn.execute(
                "UPDATE run_children SET status = 'cancelled' WHERE run_id = %(run_id)s "
                "AND seq = %(seq)s AND idx = %(idx)s AND status = 'queued'",
                key,
            )
            return
        detail = child["detail"]
        if detail.get("limit"):
            wait_until = await ratelimit.next_slot(
                conn, ratelimit.calls(RateLimit(**detail["limit"]))
            )
            if wait_until is not None:
                await defer_children(conn, run_id, seq, [idx], wait_until)
                await conn.execute(
                    SHOW_RATE_WAIT,
                    {"run_id": run_id, "until": wait_until, "limit": detail["limit"]["name"]},
                )
                return
        await conn.execute(
            "UPDATE run_children SET started_at = coalesce(started_at, now()) "
            "WHERE run_id = %(run_id)s AND seq = %(seq)s AND idx = %(idx)s",
            key,
        )
    policy = RetryPolicy(**detail["retry"])
    try:
        fn = load_function(detail["fn"])
        if inspect.iscoroutinefunction(fn):
            output = await fn(child["item"])
        else:
            output = await asyncio.to_thread(fn, child["item"])
        output, error, status = to_json(output), None, "completed"
    except Exception as exc:
        error = {"type": type(exc).__name__, "message": str(exc)[:2000]}
        output, status = None, "failed"
        if not isinstance(exc, FatalError) and child["attempts"] + 1 < policy.max_attempts:
            async with pool.connection() as conn, conn.transaction():
                row = await (
                    await conn.execute(RETRY_CHILD, key | {"error": Jsonb(error)})
                ).fetchone()
                if row:
                    at = datetime.now(UTC) + policy.delay(row["attempts"])
                    await defer_children(conn, run_id, seq, [idx], at)
            log.info(
                "map.child_retry",
                extra={"run_id": run_id, "seq": seq, "idx": idx, "error": error["message"]},
            )
            return
    await finish_child(pool, run_id, seq, idx, status, output, error, child["map_name"])


async def finish_child(pool, run_id, seq, idx, status, output, error, label) -> None:
    key = {"run_id": run_id, "seq": seq, "idx": idx}
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(LOCK_RUN, key)
        await conn.execute(LOCK_MAP, key)
        done = await (
            await conn.execute(
                FINISH_CHILD,
                key
                | {
                    "status": status,
                    "output": Jsonb(output) if output is not None else None,
                    "error": Jsonb(error) if error else None,
                },
            )
        ).fetchone()
        if not done:
            return
        nxt = await (await conn.execute(NEXT_PENDING, key)).fetchone()
        if nxt:
            await defer_children(conn, run_id, seq, [nxt["idx"]])
        progress = await (await conn.execute(MAP_PROGRESS, key | {"label": label})).fetchone()
        if progress and progress["finished"]:
            await wake_run(conn, run_id)
