"""A fire starts its run: exactly once per (schedule, fire time), across any number of processes.

The guarantee, and what provides it:
- **At most one run per fire.** A fire is a row of `schedule_fires` keyed `(schedule_id, fire_at)`,
  inserted in the same transaction that starts the run through the engine's start command (with the
  idempotency key `schedule:<id>:<fire time>` as a second lock) and moves `next_fire_at` on, all
  under the schedule's row lock. A process that dies mid-fire rolls all three back together.
- **No fire lost.** The schedule keeps `next_fire_at` until a fire commits. A job of
  `baton.schedules_due` is queued for each distinct next fire time (one job for any number of
  schedules due at the same moment: a queueing lock per time), and worker/wakeups.py wakes a worker
  when it falls due, so a fire starts within a fraction of a second of its time. If that job is lost
  (restored database, deleted job) or its worker dies, the recovery sweep sees a schedule overdue by
  more than SWEEP_GRACE_S with one index probe and queues a job at once (`rearm_overdue`).
- **Idle costs nothing.** Schedules that are not due are touched by no query: the only work is the
  job at the next fire time, and the sweep's one probe of the `schedules_due` index.

Policies, applied at each fire (docs/schedules.md):
- overlap, while an earlier run of the schedule has not ended: `skip` (recorded "skipped: overlap"),
  `buffer-one` (the fire waits and starts when that run ends; one at most), `allow-all`,
  `cancel-previous` (the earlier runs are cancelled, then the new one starts);
- catch-up, when more than one fire fell due while nothing fired them (workers down): `latest` runs
  only the most recent, `all` every one within the window (at most MAX_CATCH_UP), `none` none;
- the space's monthly quota: a fire over it is "skipped: quota", and the owner hears of it once per
  schedule per month;
- the run starts in the schedule's space as its owner; an owner who may no longer start runs there
  (removed from the team, or now a viewer) makes the fire "skipped: no access", with the reason;
- pause after N failed runs in a row (off unless set): the schedule pauses itself with a note and
  the owner is told.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection

from app.core.policy import Forbidden
from app.core.queue import SCHEDULE_RUN_ENDED, SCHEDULES_DUE, defer, defer_once
from app.core.sql_queries import load_queries
from app.engine import commands, quotas, signals
from app.engine.errors import EngineError, InvalidState, QuotaExceeded, RunNotFound
from app.engine.rows import StartedRun
from app.schedules.spec import Spec, fires_between, last_fire_at_or_before, next_fire
from app.templates.start import choose, start_template_run
from app.templates.store import TemplateInvalid, TemplateNotFound
from app.workflows.notices import notify

log = logging.getLogger("baton.schedules")

SQL = load_queries(__file__)
CLAIM_DUE = SQL["claim_due"]
COUNT_DUE = SQL["count_due"]
LOCK_SCHEDULE = SQL["lock_schedule"]
INSERT_FIRE = SQL["insert_fire"]
SET_FIRE_OUTCOME = SQL["set_fire_outcome"]
LINK_RUN = SQL["link_run"]
ACTIVE_RUNS = SQL["active_runs"]
SET_NEXT_FIRE = SQL["set_next_fire"]
QUOTA_NOTICE_DUE = SQL["quota_notice_due"]
RUN_ENDED = SQL["run_ended"]
PAUSE_FOR_FAILURES = SQL["pause_for_failures"]
OVERDUE_SCHEDULES = SQL["overdue_schedules"]
PRUNE_FIRES = SQL["prune_fires"]
INSERT_FIRES = SQL["insert_fires"]
SCHEDULES_WITH_ACTIVE_RUNS = SQL["schedules_with_active_runs"]
SET_FIRE_OUTCOMES = SQL["set_fire_outcomes"]
SET_NEXT_FIRES = SQL["set_next_fires"]
QUOTA_NOTICES_DUE = SQL["quota_notices_due"]
PAUSE_OWNER_LEFT = SQL["pause_owner_left"]

# A single fire later than this, when catch-up is `none`, counts as missed (it was due while down).
LATE_GRACE_S = 60.0
# Fires handled up to this late are on time, not caught up (a 1-second schedule on a busy machine).
BEHIND_GRACE_S = 2.0
# `all` starts at most this many missed fires; the rest of a longer outage is not run.
MAX_CATCH_UP = 100
# A schedule due for longer than this with no fire has lost its wake-up: the sweep re-arms it.
SWEEP_GRACE_S = 5.0
# Past this many schedules due at once, the job calls in helper jobs (other worker slots and
# processes) that fire the rest in parallel.
HELPER_EVERY = 50
MAX_HELPERS = 8
# Due schedules claimed per transaction: one commit, and one statement per kind of write, for many
# fires when many are due at once (a batch's spaces stay locked until its commit).
FIRE_BATCH = 200
CANCELLED_BY_NEWER = (
    "cancelled: a newer fire of its schedule started (overlap: cancel the previous run)"
)


def spec_of(schedule: dict) -> Spec:
    """An interval counts from the schedule's start date if it has one, else from when it was saved."""
    return Spec(
        cron=schedule["cron"],
        every_s=schedule["every_s"],
        zone=schedule["time_zone"],
        anchor=schedule.get("starts_at") or schedule["anchor_at"],
    )


def upcoming(schedule: dict, after: datetime) -> datetime | None:
    """The schedule's first fire after `after`, within its start and end dates (None: no more)."""
    if schedule["paused"]:
        return None
    starts_at, ends_at = schedule.get("starts_at"), schedule.get("ends_at")
    if starts_at and starts_at > after:
        after = starts_at - timedelta(microseconds=1)
    moment = next_fire(spec_of(schedule), after)
    return None if ends_at and moment > ends_at else moment


async def arm(conn: AsyncConnection, at: datetime | None) -> None:
    """Make sure a `schedules_due` job runs at `at`: one job per distinct time, however many
    schedules share it."""
    if at is not None:
        await defer_once(
            conn,
            SCHEDULES_DUE,
            {"at": at.isoformat()},
            queueing_lock=f"schedules:{at.isoformat()}",
            at=at,
        )


def idempotency_key(schedule_id: Any, fire_at: datetime) -> str:
    return f"schedule:{schedule_id}:{fire_at.isoformat()}"


OWNER_LEFT = (
    "Paused: its owner may no longer start runs in this team (they left it, or are now a viewer)."
    " A team admin can take it over."
)
NO_ACCESS = (
    "the schedule's owner may no longer start runs in its space (no longer a member of it, or a"
    " viewer there)"
)


@dataclass
class Fired:
    fire_at: datetime
    outcome: str  # 'started', 'buffered', 'skipped: overlap', 'skipped: quota', 'skipped: buffer full', 'skipped: no access', 'failed'
    run: StartedRun | None = None
    detail: str | None = None
    duplicate: bool = False  # this fire had already been recorded: nothing was done


async def _start(
    conn: AsyncConnection, schedule: dict, fire_at: datetime, starter_id: int | None = None
) -> StartedRun:
    """Start the schedule's target through the engine's one start command, as `starter_id` (a
    member who clicked "Run now") or else the schedule's owner; raises EngineError."""
    key = idempotency_key(schedule["id"], fire_at)
    starter = starter_id or schedule["owner_id"]
    if schedule.get("template_id"):  # the template's current version, as the starter may run it now
        choice = await choose(
            conn,
            user_id=starter,
            template_id=schedule["template_id"],
            space_id=schedule.get("space_id"),
        )
        run, _ = await start_template_run(
            conn,
            user_id=starter,
            input=schedule["input"],
            template=choice,
            idempotency_key=key,
            space_id=schedule.get("space_id"),
        )
        # The template's start takes no schedule: the run is linked to its fire here.
        await conn.execute(
            LINK_RUN, {"schedule_id": schedule["id"], "fire_at": fire_at, "run_id": run.id}
        )
    else:
        run, _ = await commands.start_run(
            conn,
            owner_id=starter,
            workflow=schedule["workflow"],
            input=schedule["input"],
            idempotency_key=key,
            space_id=schedule.get("space_id"),
            schedule_id=schedule["id"],
            fire_at=fire_at,
        )
    return replace(run, schedule_id=schedule["id"], fire_at=fire_at)


async def _start_recorded(
    conn: AsyncConnection, schedule: dict, fire_at: datetime, starter_id: int | None = None
) -> Fired:
    """Start the run of a recorded fire and record what happened (quota, a broken target)."""
    try:
        run = await _start(conn, schedule, fire_at, starter_id)
        fired = Fired(fire_at, "started", run)
    except QuotaExceeded as exc:
        fired = Fired(fire_at, "skipped: quota", detail=str(exc))
        if await (await conn.execute(QUOTA_NOTICE_DUE, {"id": schedule["id"]})).fetchone():
            await _quota_notice(conn, schedule, str(exc))
    except (Forbidden, RunNotFound):  # the owner left the space, or may no longer start runs in it
        fired = Fired(fire_at, "skipped: no access", detail=NO_ACCESS)
    except (
        EngineError,
        TemplateNotFound,
        TemplateInvalid,
    ) as exc:  # the target is gone or the input no longer fits
        fired = Fired(fire_at, "failed", detail=str(exc)[:500])
    await conn.execute(
        SET_FIRE_OUTCOME,
        {
            "schedule_id": schedule["id"],
            "fire_at": fire_at,
            "outcome": fired.outcome,
            "run_id": fired.run.id if fired.run else None,
            "detail": fired.detail,
        },
    )
    return fired


async def _pause_owner_left(conn: AsyncConnection, schedule_ids: list) -> None:
    """A schedule whose owner may no longer start runs in its space pauses itself, saying so on
    /schedules, instead of skipping every fire unnoticed (a team admin can take it over)."""
    if schedule_ids:
        await conn.execute(PAUSE_OWNER_LEFT, {"ids": schedule_ids, "note": OWNER_LEFT})


async def _quota_notice(conn: AsyncConnection, schedule: dict, reason: str) -> None:
    await notify(
        conn,
        user_id=schedule["owner_id"],
        kind="run_failed",
        url=f"/schedules/{schedule['id']}",
        title=f"Schedule “{schedule['name']}” skipped a run: {reason} (said once this month)",
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


async def fire(
    conn: AsyncConnection,
    schedule: dict,
    fire_at: datetime,
    *,
    kind: str,
    overlap: str,
    buffered: datetime | None = None,
    starter_id: int | None = None,
) -> Fired:
    """One fire of a schedule locked by the caller's transaction, its run started as `starter_id`
    (default: the schedule's owner). Returns what happened; a fire already recorded does nothing
    (`duplicate`)."""
    inserted = await (
        await conn.execute(
            INSERT_FIRE,
            {
                "schedule_id": schedule["id"],
                "fire_at": fire_at,
                "kind": kind,
                "outcome": "started",
                "run_id": None,
                "detail": None,
            },
        )
    ).fetchone()
    if not inserted:
        return Fired(fire_at, "started", duplicate=True)
    active = [
        r["id"]
        for r in await (await conn.execute(ACTIVE_RUNS, {"schedule_id": schedule["id"]})).fetchall()
    ]
    held = None
    if active and overlap == "skip":
        held = "skipped: overlap"
    elif active and overlap == "buffer-one":
        held = "skipped: buffer full" if buffered else "buffered"
    elif active and overlap == "cancel-previous":
        for run_id in active:
            with contextlib.suppress(InvalidState):  # it ended meanwhile
                await commands.cancel_run(
                    conn, run_id, owner_id=schedule["owner_id"], reason=CANCELLED_BY_NEWER
                )
    if held:
        await conn.execute(
            SET_FIRE_OUTCOME,
            {
                "schedule_id": schedule["id"],
                "fire_at": fire_at,
                "outcome": held,
                "run_id": None,
                "detail": None,
            },
        )
        return Fired(fire_at, held)
    return await _start_recorded(conn, schedule, fire_at, starter_id)


def due_fires(schedule: dict, now: datetime) -> list[tuple[datetime, str]]:
    """The fires to make now for a schedule whose next fire is due, by its catch-up policy."""
    spec, first = spec_of(schedule), schedule["next_fire_at"]
    ends_at = schedule.get("ends_at")
    end = min(now, ends_at) if ends_at else now
    # More than one fire fell due: nothing fired them for a while. A fire handled a moment late
    # (a busy worker) is not downtime: the next one must be overdue by more than BEHIND_GRACE_S.
    behind = next_fire(spec, first) <= end - timedelta(seconds=BEHIND_GRACE_S)
    if not behind:
        late = (now - first).total_seconds() > LATE_GRACE_S
        return [] if late and schedule["catch_up"] == "none" else [(first, "scheduled")]
    if schedule["catch_up"] == "latest":
        latest = last_fire_at_or_before(spec, first, end)
        return [(latest, "catch-up")] if latest else []
    if schedule["catch_up"] == "all":
        since = max(first, now - timedelta(seconds=schedule["catch_up_window_s"]))
        return [(t, "catch-up") for t in fires_between(spec, since, end, MAX_CATCH_UP)]
    return []


async def fire_due_schedule(conn: AsyncConnection, schedule: dict) -> list[Fired]:
    """Fire a due schedule (locked by the caller's transaction) and move it to its next fire."""
    now = schedule["db_now"]
    buffered = schedule["buffered_fire_at"]
    fired = []
    for fire_at, kind in due_fires(schedule, now):
        result = await fire(
            conn, schedule, fire_at, kind=kind, overlap=schedule["overlap"], buffered=buffered
        )
        if result.outcome == "buffered":
            buffered = fire_at
        fired.append(result)
    if any(f.outcome == "skipped: no access" for f in fired):
        await _pause_owner_left(conn, [schedule["id"]])
        schedule = schedule | {"paused": True}
    following = upcoming(schedule, now)
    await conn.execute(
        SET_NEXT_FIRE,
        {"id": schedule["id"], "next_fire_at": following, "buffered_fire_at": buffered},
    )
    await arm(conn, following)
    return fired


def _due_or_none(schedule: dict) -> list[tuple[datetime, str]] | None:
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


async def fire_batch(
    conn: AsyncConnection, batch: list[tuple[dict, list[tuple[datetime, str]]]]
) -> list[tuple[dict, list[Fired]]]:
    """Fire `batchable` due schedules (locked by the caller's transaction) together, with what
    `fire_due_schedule` does one by one done in a statement each: record the fires (the unique key
    (schedule, fire time) as before), apply the overlap policy, start the runs through the engine's
    start command in one call (`commands.start_runs`: the quota per fire, in order), record the
    outcomes, tell owners of a quota skip once a month, and move each schedule on."""
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
    # Each schedule moves on before the starts: what follows takes the spaces' locks
    # (commands.start_runs), so the less that is left to write after them, the sooner another batch
    # of the same space may start. An owner found to have left pauses the schedule below. The
    # wake-ups are queued last: every batch of a crowded second arms the same next time, and
    # inserting the queueing lock another open transaction inserted waits for its commit.
    following = {s["id"]: upcoming(s, s["db_now"]) for s, _ in batch}
    await conn.execute(
        SET_NEXT_FIRES,
        {
            "ids": list(following),
            "next_fire_ats": list(following.values()),
            "buffered_fire_ats": [buffered[sid] for sid in following],
        },
    )
    results = await commands.start_runs(
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
    )
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
        for row in await (await conn.execute(QUOTA_NOTICES_DUE, {"ids": list(over)})).fetchall():
            await _quota_notice(conn, row, over[row["id"]])
    await _pause_owner_left(
        conn, [s["id"] for s, f in recorded if f.outcome == "skipped: no access"]
    )
    for at in sorted({t for t in following.values() if t is not None}):
        await arm(conn, at)
    return [(s, [fired[s["id"]]] if s["id"] in fired else []) for s, _ in batch]


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
        async with conn.transaction():
            claimed = await (
                await conn.execute(CLAIM_DUE, {"skip": skip, "batch": batch})
            ).fetchall()
            if not claimed:
                return done
            plans = [(s, _due_or_none(s)) for s in claimed]
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
                        fired_now += await fire_batch(conn, together)
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


async def on_run_finished(conn: AsyncConnection, run: StartedRun) -> None:
    """Engine signal, inside the finishing transaction: only queue the follow-up, so the run's
    end never waits on (or deadlocks with) a fire holding the schedule's lock."""
    if run.schedule_id:
        await defer(
            conn,
            SCHEDULE_RUN_ENDED,
            {"schedule_id": str(run.schedule_id), "status": run.status},
        )


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
        return await _start_recorded(conn, schedule, buffered)


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


def connect() -> None:
    if on_run_finished not in signals.run_finished:
        signals.run_finished.append(on_run_finished)


connect()
