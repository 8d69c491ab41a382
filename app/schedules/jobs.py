"""What the schedules' jobs do (app/schedules/tasks.py registers them): fire everything due, in
batches (`fire_due`), with helper jobs when many are due at once; re-arm a lost wake-up (the
worker's sweep); start a fire buffered behind a run that ended; forget old fires. What a fire is
and guarantees: app/schedules/firing.py."""

from __future__ import annotations

import logging

import psycopg
from psycopg import AsyncConnection

from app.core.queue import SCHEDULES_DUE, defer, defer_once
from app.core.sql_queries import load_queries
from app.engine import quotas
from app.schedules.batch import arm_all, batchable, due_or_none, fire_batch
from app.schedules.firing import (
    ACTIVE_RUNS,
    LOCK_SCHEDULE,
    SET_NEXT_FIRE,
    Fired,
    fire_due_schedule,
    start_recorded,
)
from app.workflows.notices import notify

log = logging.getLogger("baton.schedules")

SQL = load_queries(__file__)
CLAIM_DUE = SQL["claim_due"]
COUNT_DUE = SQL["count_due"]
RUN_ENDED = SQL["run_ended"]
PAUSE_FOR_FAILURES = SQL["pause_for_failures"]
OVERDUE_SCHEDULES = SQL["overdue_schedules"]
PRUNE_FIRES = SQL["prune_fires"]

# A schedule due for longer than this with no fire has lost its wake-up: the sweep re-arms it.
SWEEP_GRACE_S = 5.0
# Past this many schedules due at once, the job calls in helper jobs (other worker slots and
# processes) that fire the rest in parallel.
HELPER_EVERY = 50
MAX_HELPERS = 8
# Due schedules claimed per transaction: one commit, and one statement per kind of write, for many
# fires when many are due at once.
FIRE_BATCH = 200


async def fire_due(conn: AsyncConnection, *, limit: int | None = None) -> int:
    """Fire every due schedule, skipping those another process is firing. Up to FIRE_BATCH due
    schedules are claimed per transaction, and their spaces locked at once (in space order, so that
    concurrent batches never wait on each other in a cycle). The batchable ones are fired
    together (`fire_batch`, in a savepoint); if that fails unexpectedly they are fired one by one
    like the rest, in a savepoint each, so one broken schedule rolls back alone. Returns how many
    schedules it fired."""
    done, skip = 0, []
    while limit is None or done < limit:
        batch = FIRE_BATCH if limit is None else min(FIRE_BATCH, limit - done)
        fired_now: list[tuple[dict, list[Fired]]] = []
        to_arm: set = set()
        async with conn.transaction():
            claimed = await (
                await conn.execute(CLAIM_DUE, {"skip": skip, "batch": batch})
            ).fetchall()
            if not claimed:
                return done
            plans = [(s, due_or_none(s)) for s in claimed]
            together = [(s, d) for s, d in plans if batchable(s, d)]
            alone = [s for s, d in plans if not batchable(s, d)]
            # Fired one by one, each start locking its space: all of the batch's spaces are locked
            # first, in order. The batchable ones alone leave that to commands.start_runs, which
            # locks them in one statement only once their fires are recorded.
            spaces = [(s["owner_id"], s.get("space_id")) for s in claimed]
            if alone:
                await quotas.lock_spaces(conn, spaces)
            if together:
                try:
                    async with conn.transaction():
                        fired, to_arm = await fire_batch(conn, together)
                    fired_now += fired
                except psycopg.OperationalError:
                    raise  # the database went away: the job fails, the sweep re-arms what is due
                except Exception:
                    log.exception("schedule.batch_failed", extra={"schedules": len(together)})
                    if not alone:  # the batch's savepoint, and its locks, are gone
                        await quotas.lock_spaces(conn, spaces)
                    alone += [s for s, _ in together]
            for schedule in sorted(alone, key=lambda s: (s["owner_id"], s["next_fire_at"])):
                try:
                    async with conn.transaction():
                        fired_now.append((schedule, await fire_due_schedule(conn, schedule)))
                except psycopg.OperationalError:
                    raise
                except Exception:
                    # Rolled back: this fire is still due. Leave it to the sweep, fire the others.
                    log.exception(
                        "schedule.fire_failed", extra={"schedule_id": str(schedule["id"])}
                    )
                    skip.append(schedule["id"])
        await arm_all(conn, to_arm)
        done += len(fired_now)
        for schedule, fired in fired_now:
            for result in fired:
                log.info(
                    "schedule.fired",
                    extra={
                        "schedule_id": str(schedule["id"]),
                        "fire_at": result.fire_at.isoformat(),
                        "outcome": result.outcome,
                    },
                )
    return done


async def call_helpers(conn: AsyncConnection) -> int:
    """Many schedules due at once: queue helper jobs so that other worker slots fire them too."""
    due = (
        await (await conn.execute(COUNT_DUE, {"cap": HELPER_EVERY * (MAX_HELPERS + 1)})).fetchone()
    )["n"]
    helpers = min(due // HELPER_EVERY, MAX_HELPERS)
    await defer(conn, SCHEDULES_DUE, *[{"helper": True}] * helpers)
    return helpers


async def rearm_overdue(conn: AsyncConnection, grace_s: float = SWEEP_GRACE_S) -> bool:
    """Recovery (the worker's sweep): a schedule due for longer than `grace_s` lost its wake-up, or
    its worker died mid-fire. One index probe; queues one job that fires everything due."""
    due = (await (await conn.execute(OVERDUE_SCHEDULES, {"grace_s": grace_s})).fetchone())["due"]
    if due is None:
        return False
    await defer_once(conn, SCHEDULES_DUE, {"at": None}, queueing_lock="schedules:overdue")
    log.warning("schedules.rearmed", extra={"overdue_since": due.isoformat()})
    return True


async def run_ended(conn: AsyncConnection, schedule_id: str, status: str) -> Fired | None:
    """A run of the schedule ended: count failures in a row (pausing the schedule when its limit
    is reached), and start the fire buffered behind that run, if any."""
    async with conn.transaction():
        schedule = await (await conn.execute(LOCK_SCHEDULE, {"id": schedule_id})).fetchone()
        if schedule is None:  # deleted meanwhile
            return None
        if status in ("completed", "failed"):
            schedule = await (
                await conn.execute(RUN_ENDED, {"id": schedule_id, "failed": status == "failed"})
            ).fetchone() | {"db_now": schedule["db_now"]}
            limit = schedule["pause_after_failures"]
            if (
                status == "failed"
                and limit
                and schedule["failures_in_a_row"] >= limit
                and not schedule["paused"]
            ):
                note = f"Paused after {limit} failed run{'s' if limit != 1 else ''} in a row."
                await conn.execute(PAUSE_FOR_FAILURES, {"id": schedule_id, "note": note})
                await notify(
                    conn,
                    user_id=schedule["owner_id"],
                    kind="run_failed",
                    url=f"/schedules/{schedule_id}",
                    title=f"Schedule “{schedule['name']}” paused: {note}",
                )
                return None
        buffered = schedule["buffered_fire_at"]
        if buffered is None or schedule["paused"]:
            return None
        if await (await conn.execute(ACTIVE_RUNS, {"schedule_id": schedule_id})).fetchone():
            return None  # another run (allow-all, a manual one) still runs: wait for it too
        await conn.execute(
            SET_NEXT_FIRE,
            {"id": schedule_id, "next_fire_at": schedule["next_fire_at"], "buffered_fire_at": None},
        )
        return await start_recorded(conn, schedule, buffered)


async def prune_fires(
    conn: AsyncConnection, days: int, *, batch: int = 5000, max_batches: int = 100
) -> int:
    """Forget fires older than the run retention (a 1-second schedule records 86,400 a day)."""
    pruned = 0
    for _ in range(max_batches):
        cur = await conn.execute(PRUNE_FIRES, {"days": days, "limit": batch})
        pruned += cur.rowcount
        if cur.rowcount < batch:
            break
    return pruned
