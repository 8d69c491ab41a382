"""Bulk replay: the runs of one workflow that a filter selects (statuses, a time range, an owner),
replayed as new runs, from the start or from each one's failed step (app/engine/commands.py
`plan_rerun` and `start_run`, the one start path: each is a rerun of its original, owned by the
original's owner and counted against that owner's quota).

    selected = await select_runs(conn, workflow="digest", statuses=["failed"], owner_id=None)
    replay = await create_replay(conn, requested_by=None, owner_id=None, workflow="digest",
                                 statuses=["failed"], from_step="failed", selected=selected)

A replay is paced by one job at a time, `baton.replay_tick`: each tick starts as many new runs as
keep the replay's queued and running runs under `replay_worker_share` of the live workers' slots
(BATON_REPLAY_WORKER_SHARE × workers × BATON_WORKER_CONCURRENCY, at least one), then queues the
next tick REPLAY_TICK_S later. The tick number on the replay row makes any duplicate job exit.
Cancelling stops the starting (pending items are skipped); runs already started go on as any run.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.core import policy
from app.core.config import load_settings
from app.core.queue import REPLAY_TICK, defer
from app.core.sql_queries import load_queries
from app.engine import commands
from app.engine.errors import EngineError, InputInvalid, InvalidState, ReplayNotFound

log = logging.getLogger("baton.engine")

SQL = load_queries(__file__)
SELECT_RUNS = SQL["select_runs"]
INSERT_REPLAY = SQL["insert_replay"]
LOCK_REPLAY = SQL["lock_replay"]
NEXT_TICK = SQL["next_tick"]
WORKER_SLOTS = SQL["worker_slots"]
IN_FLIGHT = SQL["in_flight"]
PENDING_ITEMS = SQL["pending_items"]
MARK_ITEM = SQL["mark_item"]
FINISH_REPLAY = SQL["finish_replay"]
SKIP_PENDING = SQL["skip_pending"]
PROGRESS = SQL["progress"]
ITEMS = SQL["items"]
GET_REPLAY = SQL["get_replay"]
LIST_REPLAYS = SQL["list_replays"]
ANNOUNCE = SQL["announce"]

MAX_RUNS = 1000  # runs one replay may hold: more must be split by time range
REPLAY_TICK_S = 0.5
FROM_STEPS = ("start", "failed")
STATUSES = ("queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled")


def check_filter(
    workflow: str,
    statuses: list[str],
    from_step: str,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Raises InputInvalid naming each wrong field."""
    errors = []
    if not workflow or len(workflow) > 100:
        errors.append({"field": "workflow", "message": "name the workflow whose runs to replay"})
    bad = [s for s in statuses if s not in STATUSES]
    if not statuses or bad:
        errors.append({"field": "status", "message": f"choose among {', '.join(STATUSES)}"})
    if from_step not in FROM_STEPS:
        errors.append({"field": "from_step", "message": "either start or failed"})
    if since and until and since >= until:
        errors.append({"field": "until", "message": "must be after since"})
    if errors:
        raise InputInvalid(errors)


async def select_runs(
    conn: AsyncConnection,
    *,
    workflow: str,
    statuses: list[str],
    owner_id: int | None,
    since: datetime | None = None,
    until: datetime | None = None,
    space_id: int | None = None,
) -> list[dict]:
    """The runs a replay with this filter takes: of `space_id` (any member's; None: every space)
    and of `owner_id` (None: every owner's, operators only). Raises InputInvalid past MAX_RUNS."""
    rows = await (
        await conn.execute(
            SELECT_RUNS,
            {
                "workflow": workflow,
                "statuses": list(statuses),
                "owner_id": owner_id,
                "space_id": space_id,
                "since": since,
                "until": until,
                "limit": MAX_RUNS + 1,
            },
        )
    ).fetchall()
    if len(rows) > MAX_RUNS:
        raise InputInvalid(
            [
                {
                    "field": "since",
                    "message": f"more than {MAX_RUNS} runs match: narrow the time range",
                }
            ]
        )
    return rows


async def create_replay(
    conn: AsyncConnection,
    *,
    requested_by: int | None,
    owner_id: int | None,
    workflow: str,
    statuses: list[str],
    from_step: str,
    selected: list[dict],
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict:
    """Record the replay of `selected` (from `select_runs`) and queue its first tick."""
    if not selected:
        raise InvalidState("no run matches: nothing to replay")
    async with conn.transaction():
        replay = await (
            await conn.execute(
                INSERT_REPLAY,
                {
                    "requested_by": requested_by,
                    "owner_id": owner_id,
                    "workflow": workflow,
                    "statuses": list(statuses),
                    "since": since,
                    "until": until,
                    "from_step": from_step,
                    "sources": [r["id"] for r in selected],
                    "owners": [r["owner_id"] for r in selected],
                },
            )
        ).fetchone()
        await _queue_tick(conn, replay["id"], at_once=True)
    return replay


async def _queue_tick(conn: AsyncConnection, replay_id: int, *, at_once: bool = False) -> None:
    tick = (await (await conn.execute(NEXT_TICK, {"replay_id": replay_id})).fetchone())["tick"]
    await defer(
        conn,
        REPLAY_TICK,
        {"replay_id": replay_id, "tick": tick},
        after_s=None if at_once else REPLAY_TICK_S,
    )


def slots_for(workers: int, share: float, concurrency: int) -> int:
    """The replay's share of the live workers' slots, at least one (so a replay always moves)."""
    return max(1, math.floor(share * max(workers, 1) * concurrency))


async def tick(pool: AsyncConnectionPool, replay_id: int, tick_no: int) -> None:
    """Start as many of the replay's runs as its share of the workers allows; queue the next tick."""
    settings = load_settings()
    async with pool.connection() as conn, conn.transaction():
        replay = await (await conn.execute(LOCK_REPLAY, {"replay_id": replay_id})).fetchone()
        if replay is None or replay["status"] != "running" or replay["tick"] != tick_no:
            return
        workers = (await (await conn.execute(WORKER_SLOTS)).fetchone())["workers"]
        busy = (await (await conn.execute(IN_FLIGHT, {"replay_id": replay_id})).fetchone())["n"]
        free = slots_for(workers, settings.replay_worker_share, settings.worker_concurrency) - busy
        pending = await (
            await conn.execute(PENDING_ITEMS, {"replay_id": replay_id, "limit": max(free, 0) + 1})
        ).fetchall()
        for item in pending[: max(free, 0)]:
            await _start_one(conn, replay, item)
        if len(pending) > max(free, 0):
            await _queue_tick(conn, replay_id)
        else:
            await conn.execute(FINISH_REPLAY, {"replay_id": replay_id, "status": "completed"})
        await _announce(conn, replay)


async def _start_one(conn: AsyncConnection, replay: dict, item: dict) -> None:
    """One replayed run, in a savepoint: a refusal (quota, a run that no longer fits) is recorded
    on its item and the others go on."""
    try:
        async with conn.transaction():
            source, plan = await commands.plan_rerun(
                conn,
                item["source_id"],
                owner_id=item["owner_id"],
                from_step=None if replay["from_step"] == "start" else "failed",
                replay_id=replay["id"],
            )
            run, _ = await commands.start_run(
                conn,
                owner_id=item["owner_id"],
                space_id=source.space_id,  # a replayed run stays in its source's space
                workflow=source.workflow,
                input=source.input,
                title=source.title,
                rerun=plan,
            )
        state, new_run_id, message = "started", run.id, None
    except (
        EngineError,
        policy.Forbidden,
    ) as exc:  # quota, gone, or no longer allowed to start there
        state, new_run_id, message = "refused", None, str(exc)[:500]
        log.info(
            "replay.refused",
            extra={"replay_id": replay["id"], "source": str(item["source_id"]), "why": message},
        )
    await conn.execute(
        MARK_ITEM,
        {
            "replay_id": replay["id"],
            "position": item["position"],
            "state": state,
            "new_run_id": new_run_id,
            "message": message,
        },
    )


async def _announce(conn: AsyncConnection, replay: dict) -> None:
    users = sorted({u for u in (replay["requested_by"], replay["owner_id"]) if u is not None})
    if users:
        await conn.execute(ANNOUNCE, {"replay_id": replay["id"], "users": users})


async def get_replay(
    conn: AsyncConnection, replay_id: int, *, user_id: int | None, items: int = 200
) -> dict:
    """The replay with its counts and first `items` items. `user_id` None: any replay (admins, CLI);
    otherwise only one this user asked for or whose runs it replays (else ReplayNotFound)."""
    replay = await (
        await conn.execute(GET_REPLAY, {"replay_id": replay_id, "user_id": user_id})
    ).fetchone()
    if replay is None:
        raise ReplayNotFound("no such replay")
    counts = await (await conn.execute(PROGRESS, {"replay_id": replay_id})).fetchone()
    rows = await (await conn.execute(ITEMS, {"replay_id": replay_id, "limit": items})).fetchall()
    return replay | {"counts": counts, "items": rows}


async def list_replays(conn: AsyncConnection, user_id: int, limit: int = 20) -> list[dict]:
    return await (await conn.execute(LIST_REPLAYS, {"user_id": user_id, "limit": limit})).fetchall()


async def cancel_replay(conn: AsyncConnection, replay_id: int, *, user_id: int | None) -> dict:
    """Start nothing more; the runs already started go on (cancel them one by one if need be)."""
    async with conn.transaction():
        replay = await (
            await conn.execute(GET_REPLAY, {"replay_id": replay_id, "user_id": user_id})
        ).fetchone()
        if replay is None:
            raise ReplayNotFound("no such replay")
        replay = await (await conn.execute(LOCK_REPLAY, {"replay_id": replay_id})).fetchone()
        if replay["status"] != "running":
            raise InvalidState(f"the replay has already {replay['status']}")
        await conn.execute(SKIP_PENDING, {"replay_id": replay_id})
        await conn.execute(FINISH_REPLAY, {"replay_id": replay_id, "status": "cancelled"})
        await _announce(conn, replay)
    return await get_replay(conn, replay_id, user_id=None)


def replay_view(replay: dict[str, Any]) -> dict:
    """The JSON shape of a replay (API and CLI)."""
    keys = (
        "id",
        "workflow",
        "statuses",
        "since",
        "until",
        "from_step",
        "status",
        "total",
        "created_at",
        "finished_at",
    )
    view = {k: replay.get(k) for k in keys}
    if "counts" in replay:
        view["counts"] = replay["counts"]
        view["items"] = [
            {
                "source_id": i["source_id"],
                "state": i["state"],
                "new_run_id": i["new_run_id"],
                "new_status": i["new_status"],
                "message": i["message"],
            }
            for i in replay["items"]
        ]
    return view
