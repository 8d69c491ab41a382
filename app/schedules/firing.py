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
  (restored database, deleted job) or its worker dies (also between a batch's commit and the arming
  of its next time, app/schedules/batch.py), the recovery sweep sees a schedule overdue by more
  than jobs.SWEEP_GRACE_S with one index probe and queues a job at once (`jobs.rearm_overdue`).

This module fires one schedule at a time (a template's, a catch-up of several fires,
cancel-previous, run now, backfill, a buffered fire); app/schedules/batch.py fires the many due
at the same second together, and app/schedules/jobs.py is what the workers' jobs run.
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

from psycopg import AsyncConnection

from app.core.policy import Forbidden
from app.core.queue import SCHEDULE_RUN_ENDED, SCHEDULES_DUE, defer, defer_once
from app.core.sql_queries import load_queries
from app.engine import commands, signals
from app.engine.errors import EngineError, InvalidState, QuotaExceeded, RunNotFound
from app.engine.rows import StartedRun
from app.schedules.spec import Spec, fires_between, last_fire_at_or_before, next_fire
from app.templates.start import choose, start_template_run
from app.templates.store import TemplateInvalid, TemplateNotFound
from app.workflows.notices import notify

log = logging.getLogger("baton.schedules")

SQL = load_queries(__file__)
LOCK_SCHEDULE = SQL["lock_schedule"]
INSERT_FIRE = SQL["insert_fire"]
SET_FIRE_OUTCOME = SQL["set_fire_outcome"]
LINK_RUN = SQL["link_run"]
ACTIVE_RUNS = SQL["active_runs"]
SET_NEXT_FIRE = SQL["set_next_fire"]
QUOTA_NOTICE_DUE = SQL["quota_notice_due"]
PAUSE_OWNER_LEFT = SQL["pause_owner_left"]

# A single fire later than this, when catch-up is `none`, counts as missed (it was due while down).
LATE_GRACE_S = 60.0
# Fires handled up to this late are on time, not caught up (a 1-second schedule on a busy machine).
BEHIND_GRACE_S = 2.0
# `all` starts at most this many missed fires; the rest of a longer outage is not run.
MAX_CATCH_UP = 100
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


async def start_recorded(
    conn: AsyncConnection, schedule: dict, fire_at: datetime, starter_id: int | None = None
) -> Fired:
    """Start the run of a recorded fire and record what happened (quota, a broken target)."""
    try:
        run = await _start(conn, schedule, fire_at, starter_id)
        fired = Fired(fire_at, "started", run)
    except QuotaExceeded as exc:
        fired = Fired(fire_at, "skipped: quota", detail=str(exc))
        if await (await conn.execute(QUOTA_NOTICE_DUE, {"id": schedule["id"]})).fetchone():
            await quota_notice(conn, schedule, str(exc))
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


async def pause_owner_left(conn: AsyncConnection, schedule_ids: list) -> None:
    """A schedule whose owner may no longer start runs in its space pauses itself, saying so on
    /schedules, instead of skipping every fire unnoticed (a team admin can take it over)."""
    if schedule_ids:
        await conn.execute(PAUSE_OWNER_LEFT, {"ids": schedule_ids, "note": OWNER_LEFT})


async def quota_notice(conn: AsyncConnection, schedule: dict, reason: str) -> None:
    await notify(
        conn,
        user_id=schedule["owner_id"],
        kind="run_failed",
        url=f"/schedules/{schedule['id']}",
        title=f"Schedule “{schedule['name']}” skipped a run: {reason} (said once this month)",
    )


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
    return await start_recorded(conn, schedule, fire_at, starter_id)


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
        await pause_owner_left(conn, [schedule["id"]])
        schedule = schedule | {"paused": True}
    following = upcoming(schedule, now)
    await conn.execute(
        SET_NEXT_FIRE,
        {"id": schedule["id"], "next_fire_at": following, "buffered_fire_at": buffered},
    )
    await arm(conn, following)
    return fired


async def on_run_finished(conn: AsyncConnection, run: StartedRun) -> None:
    """Engine signal, inside the finishing transaction: only queue the follow-up, so the run's
    end never waits on (or deadlocks with) a fire holding the schedule's lock."""
    if run.schedule_id:
        await defer(
            conn,
            SCHEDULE_RUN_ENDED,
            {"schedule_id": str(run.schedule_id), "status": run.status},
        )


def connect() -> None:
    if on_run_finished not in signals.run_finished:
        signals.run_finished.append(on_run_finished)


connect()
