"""What the web, the API and the CLI do to runs. Each command is one transaction that also queues
the job it needs, so a crash cannot separate "saved" from "queued"."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ValidationError

from app.core import audit, policy
from app.core.sql_queries import load_queries
from app.engine import quotas
from app.engine.advance import USER_CANCEL, cancelled_error, finish_run
from app.engine.errors import (
    EngineError,
    InputInvalid,
    InvalidState,
    QuotaExceeded,
    RunNotFound,
    WorkflowNotFound,
)
from app.engine.jobs import abort_advance, advance_is_running, wake_run
from app.engine.registry import WorkflowDef, get_workflow
from app.engine.rows import Hook, Run, RunSummary, StartedRun, Step

SQL = load_queries(__file__)
BY_IDEMPOTENCY_KEYS = SQL["by_idempotency_keys"]
LOCK_IDEMPOTENCY_KEYS = SQL["lock_idempotency_keys"]
INSERT_RUNS = SQL["insert_runs"]
QUEUE_NEW_RUNS = SQL["queue_new_runs"]
COUNT_RUNS = SQL["count_runs"]
LOCK_RUN = SQL["lock_run"]
REQUEST_CANCEL = SQL["request_cancel"]
FIRST_FAILED_STEP = SQL["first_failed_step"]
FORGET_FROM = SQL["forget_from"]
FORGET_HOOKS_FROM = SQL["forget_hooks_from"]
REQUEUE = SQL["requeue"]
GET_RUN = SQL["get_run"]
RUN_STEPS = SQL["run_steps"]
RUN_HOOKS = SQL["run_hooks"]
LIST_RUNS = SQL["list_runs"]
JOURNAL_HEADS = SQL["journal_heads"]
COPY_JOURNAL = SQL["copy_journal"]
COPY_HOOKS = SQL["copy_hooks"]
EDIT_STEP_OUTPUT = SQL["edit_step_output"]
COUNT_REUSED = SQL["count_reused"]

FINAL = ("completed", "failed", "cancelled")
T = TypeVar("T")


class _NotEdited:
    def __repr__(self) -> str:
        return "NOT_EDITED"


NOT_EDITED: Any = _NotEdited()  # no edited step output (None is a JSON value one may set)
VALUES = ("now", "uuid")  # journaled values: positions, not steps


@dataclass(frozen=True)
class RerunFrom:
    """A start that reuses the journal of `source_id` before position `seq` (the results of its
    earlier steps and the hooks decided there) and executes from `seq` on; with `step_output`,
    the step at `seq` is taken as done with that output and execution starts after it. Made by
    `plan_rerun`; `version` is the source's when anything is reused (its journal fits only that
    version's code), None (the newest) for a rerun from the start."""

    source_id: UUID
    seq: int
    step: str | None
    version: int | None
    step_output: Any = NOT_EDITED
    edited_input: bool = False
    replay_id: int | None = None
    # A template run's rerun runs the same pinned template version (the interpreter loads it from these).
    template_id: int | None = None
    template_version: int | None = None

    def summary(self) -> dict:
        return {
            "seq": self.seq,
            "step": self.step,
            "edited_output": self.step_output is not NOT_EDITED,
            "edited_input": self.edited_input,
            "replay_id": self.replay_id,
        }


def _field_errors(exc: ValidationError) -> list[dict]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "input", "message": e["msg"]}
        for e in exc.errors()
    ]


@dataclass(frozen=True)
class Start:
    """One run to start (the arguments of `start_run`). A schedule's fire also names the schedule
    and the fire time the run is started for, which the run records as it is inserted."""

    owner_id: int
    workflow: str
    input: dict[str, Any]
    chat_id: int | None = None
    idempotency_key: str | None = None
    title: str | None = None
    input_model: type[BaseModel] | None = None
    template_id: int | None = None
    template_version: int | None = None
    rerun: RerunFrom | None = None
    space_id: int | None = None
    schedule_id: UUID | None = None
    fire_at: datetime | None = None


async def start_run(conn: AsyncConnection, **start: Any) -> tuple[StartedRun, bool]:
    """Validate, check the quota (under the space's row lock), insert, queue. The run belongs to
    `space_id` (default: the owner's personal space); the owner must be a member allowed to start
    runs there (RunNotFound if not a member, policy.Forbidden for a viewer). Returns the run and
    whether it was created now (False: the idempotency key named an earlier run). The arguments
    are those of `Start`; this is `start_runs` for a batch of one, raising its refusal.

    A template run (app/templates) passes its version's input model, which replaces the workflow's
    own, and the template id and version the run records and keeps however the template changes.
    A `rerun` (from `plan_rerun`) also copies the reused part of the original's journal, in the same
    transaction: a rerun is a start like any other, counted against the quota."""
    (result,) = await start_runs(conn, [Start(**start)])
    if isinstance(result, Exception):
        raise result
    return result


Refusal = EngineError | policy.Forbidden


async def start_runs(
    conn: AsyncConnection,
    starts: list[Start],
    then: Callable[[list[tuple[StartedRun, bool] | Refusal]], Awaitable[None]] | None = None,
) -> list[tuple[StartedRun, bool] | Refusal]:
    """The one start path, for any number of runs at once (a schedule's crowded second starts
    hundreds): for each start, in order, the run and whether it was created now, or why it was
    refused (InputInvalid, WorkflowNotFound, RunNotFound, policy.Forbidden, QuotaExceeded), exactly
    as `start_run` would raise it. One transaction (a savepoint in the caller's) whatever the
    number: the spaces are locked together (`quotas.lock_spaces`), the quota is applied to each
    start in order, counting the batch's earlier runs, and the runs, their events, first jobs,
    audit entries and usage and quota counts are written with a statement each (the counts last:
    their rows are shared by all of an owner's and a space's starts, and stay locked until the
    commit). `then`, given the results, writes what the caller has to write in the same
    transaction (a schedule's fire outcomes, its next wake-up) before the counts, so that
    concurrent batches of one owner queue on those rows only for the count and the commit."""
    results: list[tuple[StartedRun, bool] | Refusal | None] = [None] * len(starts)
    valid: list[tuple[int, Start, WorkflowDef, BaseModel]] = []
    for i, start in enumerate(starts):
        try:
            wf = get_workflow(start.workflow, start.rerun.version if start.rerun else None)
            validated = (start.input_model or wf.input_model).model_validate(start.input)
        except ValidationError as exc:
            results[i] = InputInvalid(_field_errors(exc))
            continue
        except EngineError as exc:
            results[i] = exc
            continue
        valid.append((i, start, wf, validated))
    if not valid:
        if then is not None:
            await then(results)  # type: ignore[arg-type]
        return results  # type: ignore[return-value]
    async with conn.transaction():
        owners = await quotas.lock_spaces(conn, [(s.owner_id, s.space_id) for _, s, _, _ in valid])
        keyed = [(s.owner_id, s.idempotency_key) for _, s, _, _ in valid if s.idempotency_key]
        existing = await _by_idempotency_keys(conn, keyed)
        used = await quotas.runs_used(conn, [o["space_id"] for o in owners.values()])
        rows: list[tuple[int, Start, WorkflowDef, BaseModel, dict]] = []
        firsts: dict[tuple[int, str], int] = {}  # a key repeated within the batch: its first start
        repeats: list[tuple[int, int]] = []
        for i, start, wf, validated in valid:
            owner = owners.get((start.owner_id, start.space_id))
            try:
                quotas.may_start(owner)
            except (EngineError, policy.Forbidden) as exc:
                results[i] = exc
                continue
            key = (start.owner_id, start.idempotency_key)
            if start.idempotency_key and key in existing:
                results[i] = (existing[key], False)
                continue
            if start.idempotency_key and key in firsts:
                repeats.append((i, firsts[key]))
                continue
            try:
                await quotas.check_run_quota(conn, owner, wf, used)
            except QuotaExceeded as exc:
                results[i] = exc
                continue
            if start.idempotency_key:
                firsts[key] = i
            rows.append((i, start, wf, validated, owner))
        inserted = await _insert_runs(conn, rows)
        for (i, start, _, _, _), run in zip(rows, inserted, strict=True):
            results[i] = (run, True)
            if start.rerun:
                await _copy_journal(conn, run.id, start.rerun)
        for i, first in repeats:
            results[i] = (results[first][0], False) if isinstance(results[first], tuple) else None
        if inserted:
            await conn.execute(QUEUE_NEW_RUNS, {"run_ids": [run.id for run in inserted]})
        await audit.record_many(
            conn,
            [
                _audit_start(run, start)
                for (_, start, _, _, _), run in zip(rows, inserted, strict=True)
            ],
        )
        if then is not None:
            await then(results)  # type: ignore[arg-type]
        await _count_runs(conn, rows)  # last: see count_runs
    return results  # type: ignore[return-value]


async def _by_idempotency_keys(
    conn: AsyncConnection, keyed: list[tuple[int, str]]
) -> dict[tuple[int, str], StartedRun]:
    if not keyed:
        return {}
    params = {"owner_ids": [o for o, _ in keyed], "keys": [k for _, k in keyed]}
    await conn.execute(LOCK_IDEMPOTENCY_KEYS, params)
    cur = conn.cursor(row_factory=class_row(StartedRun))
    rows = await (await cur.execute(BY_IDEMPOTENCY_KEYS, params)).fetchall()
    return {(r.owner_id, r.idempotency_key): r for r in rows}


async def _insert_runs(
    conn: AsyncConnection, rows: list[tuple[int, Start, WorkflowDef, BaseModel, dict]]
) -> list[StartedRun]:
    """Insert the admitted runs; returns them in the order given."""
    if not rows:
        return []
    ids = [uuid4() for _ in rows]
    values = []
    for _, start, wf, validated, owner in rows:
        rerun = start.rerun
        values.append(
            {
                "owner_ids": start.owner_id,
                "space_ids": owner["space_id"],
                "chat_ids": start.chat_id,
                "workflows": wf.name,
                "versions": wf.version,
                "titles": (start.title or wf.run_title(validated))[:200],
                "inputs": Jsonb(validated.model_dump(mode="json")),
                "keys": start.idempotency_key,
                "max_durations": wf.max_duration,
                "template_ids": start.template_id or (rerun.template_id if rerun else None),
                "template_versions": start.template_version
                or (rerun.template_version if rerun else None),
                "rerun_ofs": rerun.source_id if rerun else None,
                "rerun_froms": Jsonb(rerun.summary()) if rerun else None,
                "schedule_ids": start.schedule_id,
                "fire_ats": start.fire_at,
            }
        )
    cols = {name: [v[name] for v in values] for name in values[0]}
    cur = conn.cursor(row_factory=class_row(StartedRun))
    runs = await (await cur.execute(INSERT_RUNS, {"ids": ids, **cols})).fetchall()
    by_id = {run.id: run for run in runs}
    return [by_id[run_id] for run_id in ids]


async def _count_runs(
    conn: AsyncConnection, rows: list[tuple[int, Start, WorkflowDef, BaseModel, dict]]
) -> None:
    if rows:
        await conn.execute(
            COUNT_RUNS,
            {
                "owner_ids": [start.owner_id for _, start, _, _, _ in rows],
                "space_ids": [owner["space_id"] for _, _, _, _, owner in rows],
                "counted": [quotas.counts_toward_quota(wf) for _, _, wf, _, _ in rows],
            },
        )


def _audit_start(run: StartedRun, start: Start) -> audit.Entry:
    """run.start (run.rerun) in the start's transaction; the actor is the starter, who for a
    schedule's fire or a trigger's delivery is its owner: the detail names which one (from the key)."""
    detail: dict[str, Any] = {"workflow": run.workflow, "title": run.title}
    origin, _, rest = (start.idempotency_key or "").partition(":")
    if origin in ("schedule", "trigger") and rest:
        detail[f"{origin}_id"] = rest.partition(":")[0]
    rerun = start.rerun
    if rerun:
        detail |= {"rerun_of": str(rerun.source_id), "from_step": rerun.step}
        if rerun.replay_id:
            detail["replay_id"] = rerun.replay_id
    return audit.Entry(
        space_id=run.space_id,
        actor_id=start.owner_id,
        action="run.rerun" if rerun else "run.start",
        object_kind="run",
        object_id=run.id,
        detail=detail,
    )


async def _copy_journal(conn: AsyncConnection, run_id: UUID, rerun: RerunFrom) -> None:
    edited = rerun.step_output is not NOT_EDITED
    upto = rerun.seq + 1 if edited else rerun.seq
    params = {"run_id": run_id, "source_id": rerun.source_id, "upto": upto}
    await conn.execute(COPY_JOURNAL, params)
    await conn.execute(COPY_HOOKS, params)
    if edited:
        await conn.execute(
            EDIT_STEP_OUTPUT,
            {"run_id": run_id, "seq": rerun.seq, "output": Jsonb(rerun.step_output)},
        )
    await conn.execute(COUNT_REUSED, {"run_id": run_id})


async def _audit(
    conn: AsyncConnection, run: dict, action: str, actor_id: int | None, detail: dict
) -> None:
    detail = {"workflow": run["workflow"], "title": run["title"]} | detail
    await audit.record(
        conn,
        space_id=run["space_id"],
        actor_id=actor_id,
        action=action,
        object_kind="run",
        object_id=run["id"],
        detail=detail,
    )


def _reruns_from_steps(run: Run) -> bool:
    try:
        return get_workflow(run.workflow, run.version).rerun_from_steps
    except WorkflowNotFound:
        return True  # the start refuses it anyway, saying so


async def plan_rerun(
    conn: AsyncConnection,
    run_id: UUID | str,
    *,
    owner_id: int | None,
    space_id: int | None = None,
    from_step: str | int | None = None,
    input: dict[str, Any] | None = None,
    step_output: Any = NOT_EDITED,
    replay_id: int | None = None,
) -> tuple[Run, RerunFrom]:
    """Where a rerun of `run_id` starts: `from_step` is a step's name (its first position), its
    position (`seq`), "failed" (the first failed step, else the start), or None/"start". Raises
    RunNotFound (another owner's run, or another space's with `space_id`), InputInvalid (`from_step`, `step_output`) or InvalidState
    (an earlier step has not finished, or the journal was pruned). Returns the source run (with
    `input` replaced when given) and the plan for `start_run(..., rerun=plan)`."""
    source = await get_run(conn, run_id, owner_id=owner_id, space_id=space_id, with_tokens=False)
    rows = await (await conn.execute(JOURNAL_HEADS, {"run_id": source.id})).fetchall()
    steps = [r for r in rows if r["kind"] not in VALUES]
    target = None
    if isinstance(from_step, int):
        target = next((r for r in steps if r["seq"] == from_step), None)
        if target is None:
            raise InputInvalid(
                [{"field": "from_step", "message": f"the run has no step at position {from_step}"}]
            )
    elif from_step == "failed":  # a replay's choice: from the start where steps cannot be reused
        target = (
            next((r for r in steps if r["status"] == "failed"), None)
            if _reruns_from_steps(source)
            else None
        )
    elif from_step not in (None, "", "start"):
        target = next((r for r in steps if r["name"] == from_step), None)
        if target is None:
            raise InputInvalid(
                [
                    {
                        "field": "from_step",
                        "message": f"the run has no step named “{from_step}”"[:300],
                    }
                ]
            )
    edited = step_output is not NOT_EDITED
    if edited and (target is None or target["kind"] != "step"):
        raise InputInvalid(
            [
                {
                    "field": "step_output",
                    "message": "only the output of a step (not a hook, sleep or "
                    "transaction) can be edited: choose the step to rerun from",
                }
            ]
        )
    seq = target["seq"] if target else 0
    if (seq or edited) and not _reruns_from_steps(source):
        raise InvalidState(
            "this workflow keeps its state under the run's id: it can only be rerun from the start"
        )
    unfinished = next((r for r in rows if r["seq"] < seq and r["status"] != "completed"), None)
    if unfinished:
        raise InvalidState(
            f"“{unfinished['name']}” before that step has not finished: rerun from it instead"
        )
    if seq and source.journal_pruned_at:
        raise InvalidState(
            "this run's steps were removed by the retention policy: it can only be rerun from the start"
        )
    plan = RerunFrom(
        source_id=source.id,
        seq=seq,
        step=target["name"] if target else None,
        version=source.version if seq or edited else None,
        step_output=step_output,
        edited_input=input is not None and input != source.input,
        replay_id=replay_id,
        template_id=source.template_id,
        template_version=source.template_version,
    )
    return (replace(source, input=input) if input is not None else source), plan


def visible(run: dict | Run | None, owner_id: int | None, space_id: int | None) -> bool:
    """Is `run` (a locked row, or a `Run`) there for the caller? Within `space_id` when given (the
    web, the API, the CLI's `--as`: any member of the space sees its runs), else of `owner_id` when
    given; neither is the operator's view (every run)."""
    if run is None:
        return False
    if isinstance(run, dict):
        run_space, run_owner = run["space_id"], run["owner_id"]
    else:
        run_space, run_owner = run.space_id, run.owner_id
    if space_id is not None:
        return run_space == space_id
    return owner_id is None or run_owner == owner_id


async def _lock_run(
    conn: AsyncConnection, run_id: UUID | str, owner_id: int | None, space_id: int | None = None
) -> dict:
    try:
        UUID(str(run_id))
    except ValueError:
        raise RunNotFound("no such run") from None
    run = await (await conn.execute(LOCK_RUN, {"run_id": run_id})).fetchone()
    if not visible(run, owner_id, space_id):
        raise RunNotFound("no such run")
    return run


async def cancel_run(
    conn: AsyncConnection,
    run_id: UUID | str,
    *,
    owner_id: int | None = None,
    space_id: int | None = None,
    reason: str = USER_CANCEL,
    actor_id: int | None = None,
) -> Run:
    """Queued, sleeping and waiting runs stop at once; a running one at its next step boundary
    (its job is aborted, which interrupts a long step). With `space_id`, only a run of that space
    (else RunNotFound); the caller checks the member's role (policy.Action.OPERATE). Audited as
    run.cancel by `actor_id` (default `owner_id`; neither: the system)."""
    async with conn.transaction():
        run = await _lock_run(conn, run_id, owner_id, space_id)
        if run["status"] in FINAL:
            raise InvalidState(f"the run has already {run['status']}")
        await conn.execute(REQUEST_CANCEL, {"run_id": run["id"], "reason": reason})
        await _audit(conn, run, "run.cancel", actor_id or owner_id, {"reason": reason})
        # Only a run that is really executing needs its job aborted: a waiting or sleeping run whose
        # job is just finishing (or was just fetched, and waits on our row lock) stops here and now.
        if run["status"] == "running" and await advance_is_running(conn, run["id"]):
            await abort_advance(conn, run["id"])
            # If the advance suspends before it sees the flag, this wake-up finishes the cancel.
            await wake_run(conn, run["id"])
        else:
            await finish_run(conn, run["id"], "cancelled", error=cancelled_error(reason))
    return await _fetch_run(conn, run["id"])


async def retry_run(
    conn: AsyncConnection,
    run_id: UUID | str,
    *,
    owner_id: int | None = None,
    space_id: int | None = None,
    actor_id: int | None = None,
) -> Run:
    """Run a failed run again from its failed step; completed steps keep their results. Audited
    as run.retry by `actor_id` (default `owner_id`)."""
    async with conn.transaction():
        run = await _lock_run(conn, run_id, owner_id, space_id)
        if run["status"] != "failed":
            raise InvalidState("only a failed run can be retried")
        await _audit(conn, run, "run.retry", actor_id or owner_id, {})
        failed = (await (await conn.execute(FIRST_FAILED_STEP, {"run_id": run["id"]})).fetchone())[
            "seq"
        ]
        if failed is not None:
            await conn.execute(FORGET_HOOKS_FROM, {"run_id": run["id"], "seq": failed})
            await conn.execute(FORGET_FROM, {"run_id": run["id"], "seq": failed})
        await conn.execute(REQUEUE, {"run_id": run["id"]})
        await wake_run(conn, run["id"])
    return await _fetch_run(conn, run["id"])


async def get_run(
    conn: AsyncConnection,
    run_id: UUID | str,
    *,
    owner_id: int | None = None,
    space_id: int | None = None,
    with_tokens: bool = True,
) -> Run:
    """The run with its steps and hooks (hook tokens only when `with_tokens`), and its space
    (`space_kind`, `space_slug`, `space_name`). RunNotFound unless it is in `space_id` (when given)
    or `owner_id`'s (when given)."""
    try:
        UUID(str(run_id))
    except ValueError:
        raise RunNotFound("no such run") from None
    run = await _fetch_run(conn, run_id)
    if run is None or not visible(run, owner_id, space_id):
        raise RunNotFound("no such run")
    steps = await _fetch(conn, Step, RUN_STEPS, run_id)
    hooks = await _fetch(conn, Hook, RUN_HOOKS, run_id)
    if not with_tokens:
        hooks = [replace(hook, token=None) for hook in hooks]
    return replace(run, steps=tuple(steps), hooks=tuple(hooks))


async def _fetch_run(conn: AsyncConnection, run_id: UUID | str) -> Run | None:
    cur = conn.cursor(row_factory=class_row(Run))
    return await (await cur.execute(GET_RUN, {"run_id": run_id})).fetchone()


async def _fetch(conn: AsyncConnection, row: type[T], query: str, run_id: UUID | str) -> list[T]:
    cur = conn.cursor(row_factory=class_row(row))
    return await (await cur.execute(query, {"run_id": run_id})).fetchall()


def encode_cursor(row: dict) -> str:
    return base64.urlsafe_b64encode(
        f"{row['created_at'].isoformat()}|{row['id']}".encode()
    ).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    if not cursor:
        return None, None
    try:
        ts, run_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(ts), str(UUID(run_id))
    except (ValueError, UnicodeDecodeError):
        raise InputInvalid([{"field": "cursor", "message": "not a cursor from this API"}]) from None


async def list_runs(
    conn: AsyncConnection,
    *,
    owner_id: int | None,
    space_id: int | None = None,
    status: str | None = None,
    workflow: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[RunSummary], str | None]:
    """Newest first, keyset-paginated: the runs of `space_id` (every member's) when given, else
    `owner_id`'s (None: everyone's, the operator's view). Returns the page and the next cursor."""
    after_ts, after_id = decode_cursor(cursor)
    cur = conn.cursor(row_factory=class_row(RunSummary))
    rows = await (
        await cur.execute(
            LIST_RUNS,
            {
                "owner_id": None if space_id is not None else owner_id,
                "space_id": space_id,
                "status": status,
                "workflow": workflow,
                "after_ts": after_ts,
                "after_id": after_id,
                "limit": limit + 1,
            },
        )
    ).fetchall()
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = encode_cursor({"created_at": last.created_at, "id": last.id}) if last else None
    return rows[:limit], next_cursor
