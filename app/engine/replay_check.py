"""Replaying one run's journal against the workflow code of this checkout, executing nothing.

`ReplayRun` answers each durable call the way `Run` does on replay — from the journal — and ends
the replay at the first position the journal does not hold yet (the frontier): from there on the
code would run new steps, which cannot contradict history. No step body, hook, sleep, transaction
or fan-out child runs, and nothing touches the database: the check is safe against production.

Template runs need nothing special: the `template` workflow loads its pinned version with its first,
journaled call, so the replay interprets exactly the version the run started with, and what the
check tests is the interpreter code of this checkout (a template edit is a new version, never a
change under a running run).

What would break a run in flight when the new code takes it over:
- `diverged`: at some position the code asks for another (name, kind) than the journal holds (the
  engine would stop the run with NonDeterminism), or the code now ends before the journal does;
- `workflow_missing`: the run's workflow or version is no longer registered;
- `input_invalid`: the run's input no longer validates against the version's input model;
- `map_function_missing`: an unfinished `run.map`'s children import a function that is gone;
- `replay_error`: the code raises while replaying its own history (e.g. it reads a key that an
  older step's journaled output does not have), which would fail the run.
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from app.engine.errors import StepFailed, WorkflowNotFound
from app.engine.mapping import load_function
from app.engine.registry import get_workflow
from app.engine.values import HookResult

# A workflow whose replay waits on something that is not a durable call (a bare network request,
# an asyncio.sleep) is reported instead of holding the check up.
REPLAY_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Risk:
    """One run that the code of this checkout would break."""

    run_id: str
    workflow: str
    version: int
    status: str
    owner_id: int
    owner_email: str | None
    problem: str
    message: str
    position: int | None = None
    journal_step: dict | None = None  # {"name", "kind"} the journal holds at `position`
    code_step: dict | None = None  # what the code asks for there (None: the code ends)
    template: dict | None = None  # a template run's pinned {"id", "version"}

    def to_json(self) -> dict:
        return asdict(self)


class _Frontier(BaseException):
    """The code reached a position the journal does not hold: the replay is done, all agreed.
    A BaseException so that `except Exception` in workflow code cannot swallow it."""


class _Diverged(BaseException):
    def __init__(self, position: int, entry: dict, name: str, kind: str):
        self.position, self.entry, self.name, self.kind = position, entry, name, kind


class ReplayRun:
    """The `Run` interface, answered from the journal only."""

    def __init__(self, row: dict, input: Any):
        self.id = row["id"]
        self.owner_id: int = row["owner_id"]
        self.workflow: str = row["workflow"]
        self.version: int = row["version"]
        self.chat_id = row.get("chat_id")
        self.input = input
        self._journal: dict[int, dict] = {
            e[0]: {
                "seq": e[0],
                "name": e[1],
                "kind": e[2],
                "status": e[3],
                "output": e[4],
                "error": e[5],
                "fn": e[6],
            }
            for e in row["journal"]
        }
        self._seq = 0
        self.attempt = 0

    @property
    def idempotency_key(self) -> str:
        raise RuntimeError("idempotency_key is only defined inside a step")

    def _next(self, name: str, kind: str) -> dict:
        seq = self._seq
        self._seq += 1
        entry = self._journal.get(seq)
        if entry is None:
            raise _Frontier()
        if entry["name"] != name or entry["kind"] != kind:
            raise _Diverged(seq, entry, name, kind)
        return entry

    def _done(self, entry: dict) -> Any:
        """The journaled result of a finished call; the frontier for one still open."""
        if entry["status"] == "completed":
            return entry["output"]
        if entry["status"] == "failed":
            raise StepFailed(entry["name"], entry["error"] or {})
        raise _Frontier()

    async def step(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self._done(self._next(name, "step"))

    async def transaction(self, name: str, fn: Any) -> Any:
        return self._done(self._next(name, "transaction"))

    async def sleep(self, name: str, duration: Any) -> None:
        self._done(self._next(name, "sleep"))

    async def sleep_until(self, name: str, when: datetime) -> None:
        self._done(self._next(name, "sleep"))

    def now(self) -> datetime:
        return datetime.fromisoformat(self._done(self._next("now", "now")))

    def uuid(self) -> uuidlib.UUID:
        return uuidlib.UUID(self._done(self._next("uuid", "uuid")))

    async def progress(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def hook(self, name: str, kind: str = "approval", **kwargs: Any) -> HookResult:
        return HookResult.from_json(self._done(self._next(name, "hook")))

    async def map(self, name: str, fn: Any, items: Any, **kwargs: Any) -> list[Any]:
        entry = self._next(name, "map")
        if entry["status"] not in ("completed", "failed") and entry["fn"]:
            # Children still to run import their function by the journaled path, not the code's.
            try:
                load_function(entry["fn"])
            except (ImportError, AttributeError) as exc:
                raise _MapFunctionMissing(self._seq - 1, entry, str(exc)) from None
        return self._done(entry)

    @property
    def consumed(self) -> int:
        return self._seq

    def journal_length(self) -> int:
        return len(self._journal)

    def entry(self, seq: int) -> dict | None:
        return self._journal.get(seq)


class _MapFunctionMissing(BaseException):
    def __init__(self, position: int, entry: dict, reason: str):
        self.position, self.entry, self.reason = position, entry, reason


def _step(entry: dict | None) -> dict | None:
    return {"name": entry["name"], "kind": entry["kind"]} if entry else None


async def replay_run(row: dict) -> Risk | None:
    """Replay one in-flight run (a row of `in_flight_runs`); the risk it runs, or None if safe."""

    pinned = (
        {"id": row["template_id"], "version": row["template_version"]}
        if row.get("template_id")
        else None
    )

    def risk(problem: str, message: str, **more: Any) -> Risk:
        return Risk(
            str(row["id"]),
            row["workflow"],
            row["version"],
            row["status"],
            row["owner_id"],
            row.get("owner_email"),
            problem,
            message,
            template=pinned,
            **more,
        )

    try:
        wf = get_workflow(row["workflow"], row["version"])
    except WorkflowNotFound as exc:
        return risk("workflow_missing", str(exc))
    try:
        workflow_input = wf.input_model.model_validate(row["input"])
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "input"
        return risk("input_invalid", f"input no longer validates: {field}: {first['msg']}")
    run = ReplayRun(row, workflow_input)
    try:
        await asyncio.wait_for(wf.fn(run, workflow_input), REPLAY_TIMEOUT_S)
    except _Frontier:
        return None
    except _Diverged as d:
        return risk(
            "diverged",
            f"at position {d.position} the journal holds {d.entry['kind']} {d.entry['name']!r} "
            f"but the code now asks for {d.kind} {d.name!r}",
            position=d.position,
            journal_step=_step(d.entry),
            code_step={"name": d.name, "kind": d.kind},
        )
    except _MapFunctionMissing as m:
        return risk(
            "map_function_missing",
            f"the fan-out {m.entry['name']!r} still has children to run and their "
            f"function {m.entry['fn']} is gone ({m.reason})",
            position=m.position,
            journal_step=_step(m.entry),
            code_step=_step(m.entry),
        )
    except TimeoutError:
        return risk(
            "replay_error",
            f"replay did not reach the journal's end within {REPLAY_TIMEOUT_S:.0f} s "
            "(the workflow awaits something that is not a durable call)",
            position=run.consumed,
        )
    except Exception as exc:
        return risk(
            "replay_error",
            f"the code raises while replaying its journal: {type(exc).__name__}: {str(exc)[:300]}",
            position=max(run.consumed - 1, 0),
        )
    if run.consumed < run.journal_length():
        # The code finishes where the journal goes on: the run would complete and drop that history.
        entry = run.entry(run.consumed)
        return risk(
            "diverged",
            f"the code now ends at position {run.consumed} but the journal holds "
            f"{entry['kind']} {entry['name']!r} there"
            if entry
            else f"the code now ends at position {run.consumed}, before the journal does",
            position=run.consumed,
            journal_step=_step(entry),
            code_step=None,
        )
    return None
