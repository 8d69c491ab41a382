"""Many due schedules fired together, in one transaction, with a statement per kind of write
(`fire_batch`), for the crowded second when thousands are due at once; what a fire is and
guarantees is app/schedules/firing.py, which fires the schedules that cannot be batched.

The batch's writes are ordered by what they lock: its own rows first (fires, next fire times,
outcomes), the rows every start of an owner and a space shares (their month's counts, written by
`commands.start_runs`) last, right before the commit, so concurrent batches of one owner queue on
them only for that statement and the commit. The batch's next wake-ups are armed by the caller
after the commit (`arm_all`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from app.core.policy import Forbidden
from app.core.sql_queries import load_queries
from app.engine import commands
from app.engine.errors import QuotaExceeded, RunNotFound
from app.engine.rows import StartedRun
from app.schedules.firing import (
    NO_ACCESS,
    Fired,
    arm,
    due_fires,
    idempotency_key,
    pause_owner_left,
    quota_notice,
    upcoming,
)

SQL = load_queries(__file__)
INSERT_FIRES = SQL["insert_fires"]
SCHEDULES_WITH_ACTIVE_RUNS = SQL["schedules_with_active_runs"]
SET_FIRE_OUTCOMES = SQL["set_fire_outcomes"]
SET_NEXT_FIRES = SQL["set_next_fires"]
QUOTA_NOTICES_DUE = SQL["quota_notices_due"]


def due_or_none(schedule: dict) -> list[tuple[datetime, str]] | None:
    """`due_fires`, or None for a schedule whose spec no longer reads (it fires alone, where its
    error is logged and it is left to the sweep)."""
    try:
        return due_fires(schedule, schedule["db_now"])
    except Exception:
        return None


def batchable(schedule: dict, due: list[tuple[datetime, str]] | None) -> bool:
    """Fired with the others of its batch (`fire_batch`): a built-in workflow's schedule with at most
    one fire due whose overlap policy cancels nothing. The rest (a template's, catch-up of several
    fires, cancel-previous) fire one by one (`fire_due_schedule`)."""
    return (
        due is not None
        and not schedule.get("template_id")
        and schedule["overlap"] != "cancel-previous"
        and len(due) <= 1
    )


def _outcome(fire_at: datetime, result: tuple[StartedRun, bool] | Exception) -> Fired:
    """What a start's result (from commands.start_runs) makes of a fire."""
    if isinstance(result, tuple):
        return Fired(fire_at, "started", result[0])
    if isinstance(result, QuotaExceeded):
        return Fired(fire_at, "skipped: quota", detail=str(result))
    if isinstance(result, Forbidden | RunNotFound):
        return Fired(fire_at, "skipped: no access", detail=NO_ACCESS)
    return Fired(fire_at, "failed", detail=str(result)[:500])


async def fire_batch(
    conn: AsyncConnection, batch: list[tuple[dict, list[tuple[datetime, str]]]]
) -> tuple[list[tuple[dict, list[Fired]]], set[datetime]]:
    """Fire `batchable` due schedules (locked by the caller's transaction) together, with what
    `fire_due_schedule` does one by one done in a statement each: record the fires (the unique key
    (schedule, fire time) as before), apply the overlap policy, move each schedule on, start the
    runs through the engine's start command in one call (`commands.start_runs`: the quota per fire,
    in order), record the outcomes and tell owners of a quota skip once a month. Returns what each
    schedule's fire did and the next fire times to arm once the caller has committed (`arm_all`)."""
    due = [(s, d[0]) for s, d in batch if d]
    new = {
        r["schedule_id"]
        for r in await (
            await conn.execute(
                INSERT_FIRES,
                {
                    "schedule_ids": [s["id"] for s, _ in due],
                    "fire_ats": [t for _, (t, _) in due],
                    "kinds": [k for _, (_, k) in due],
                    "outcomes": ["started"] * len(due),
                },
            )
        ).fetchall()
    }
    active = {
        r["schedule_id"]
        for r in await (
            await conn.execute(SCHEDULES_WITH_ACTIVE_RUNS, {"schedule_ids": list(new)})
        ).fetchall()
    }
    fired: dict[Any, Fired] = {}
    buffered = {s["id"]: s["buffered_fire_at"] for s, _ in batch}
    starts: list[tuple[dict, datetime]] = []
    for schedule, (fire_at, _) in due:
        sid = schedule["id"]
        if sid not in new:
            fired[sid] = Fired(fire_at, "started", duplicate=True)
        elif sid in active and schedule["overlap"] == "skip":
            fired[sid] = Fired(fire_at, "skipped: overlap")
        elif sid in active and schedule["overlap"] == "buffer-one":
            fired[sid] = Fired(fire_at, "skipped: buffer full" if buffered[sid] else "buffered")
            buffered[sid] = buffered[sid] or fire_at
        else:
            starts.append((schedule, fire_at))
    # An owner found to have left pauses the schedule below (`record`), after this.
    following = {s["id"]: upcoming(s, s["db_now"]) for s, _ in batch}
    await conn.execute(
        SET_NEXT_FIRES,
        {
            "ids": list(following),
            "next_fire_ats": list(following.values()),
            "buffered_fire_ats": [buffered[sid] for sid in following],
        },
    )

    async def record(results: list) -> None:
        """The outcomes, written before the start's counts (see the module's docstring)."""
        for (schedule, fire_at), result in zip(starts, results, strict=True):
            fired[schedule["id"]] = _outcome(fire_at, result)
        recorded = [(s, fired[s["id"]]) for s, _ in due if not fired[s["id"]].duplicate]
        await conn.execute(
            SET_FIRE_OUTCOMES,
            {
                "schedule_ids": [s["id"] for s, _ in recorded],
                "fire_ats": [f.fire_at for _, f in recorded],
                "outcomes": [f.outcome for _, f in recorded],
                "run_ids": [f.run.id if f.run else None for _, f in recorded],
                "details": [f.detail for _, f in recorded],
            },
        )
        over = {s["id"]: f.detail for s, f in recorded if f.outcome == "skipped: quota"}
        if over:
            notices = await conn.execute(QUOTA_NOTICES_DUE, {"ids": list(over)})
            for row in await notices.fetchall():
                await quota_notice(conn, row, over[row["id"]])
        await pause_owner_left(
            conn, [s["id"] for s, f in recorded if f.outcome == "skipped: no access"]
        )

    await commands.start_runs(
        conn,
        [
            commands.Start(
                owner_id=s["owner_id"],
                workflow=s["workflow"],
                input=s["input"],
                idempotency_key=idempotency_key(s["id"], t),
                space_id=s.get("space_id"),
                schedule_id=s["id"],
                fire_at=t,
            )
            for s, t in starts
        ],
        then=record,
    )
    times = {t for t in following.values() if t is not None}
    return [(s, [fired[s["id"]]] if s["id"] in fired else []) for s, _ in batch], times


async def arm_all(conn: AsyncConnection, times: set[datetime]) -> None:
    """Arm the next fire times of committed batches, in a transaction of their own. Every batch of
    a crowded second arms the same next time, and inserting the queueing lock that another open
    transaction inserted waits for its commit: armed inside the batch, after its counts, a batch
    held its owner's count rows through that wait. A crash between a batch's commit and this
    leaves its schedules' next fire unarmed: the sweep re-arms them (`jobs.rearm_overdue`)."""
    if times:
        async with conn.transaction():
            for at in sorted(times):
                await arm(conn, at)
