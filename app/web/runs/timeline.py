"""The run page's waterfall: each journaled step, sleep and hook as a bar on the run's time axis,
numbered 1, 2, 3 in the order shown, with its output made readable (Markdown, tables, file links,
pretty JSON cut at a size).

    view = waterfall(run)     # run as commands.get_run returns it (with steps and hooks)
    {% include "partials/dashboard/run_timeline.html" %}

Positions are percentages of the run's span, computed here so the template needs no inline styles
(the CSP forbids them): the template draws them as SVG x/width attributes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from app.core.markdown import render_markdown
from app.engine.rows import Hook, Run, Step
from app.web.runs.bookkeeping import people_steps
from app.web.runs.cards import ACTION_WORDS

MIN_WIDTH = 0.6  # percent: an instant step still shows as a visible tick
JSON_LIMIT = 4000  # characters of pretty JSON shown before "… cut"
TEXT_LIMIT = 20_000  # characters of Markdown rendered
TABLE_ROWS = 50
TABLE_COLUMNS = 8
CELL_LIMIT = 200
FIELDS_LIMIT = 20


def _now() -> datetime:
    return datetime.now(UTC)


def _end_of(step: Step, hook: Hook | None, now: datetime) -> datetime:
    if step.completed_at:
        return step.completed_at
    if hook and hook.decided_at:
        return hook.decided_at
    return now  # still running, sleeping or waiting: the bar grows to now


def _bounds(run: Run, steps: list[Step], now: datetime) -> tuple[datetime, datetime]:
    starts = [s.started_at for s in steps if s.started_at]
    start = min([run.started_at or run.created_at, *starts])
    ends = [s.completed_at for s in steps if s.completed_at]
    end = run.completed_at or (
        now if run.status not in ("completed", "failed", "cancelled") else None
    )
    end = max([e for e in (end, *ends) if e] or [start])
    return start, end


def _bar(start: datetime, end: datetime, t0: datetime, span: float) -> tuple[float, float]:
    offset = max(0.0, min(100.0, (start - t0).total_seconds() / span * 100))
    width = max(MIN_WIDTH, (end - start).total_seconds() / span * 100)
    width = min(width, 100.0)
    return round(min(offset, 100.0 - width), 2), round(width, 2)


def _file(value: Any) -> dict | None:
    """A known file reference: {"artifact_id": …, "name": …} as stored by uploads and steps."""
    if (
        isinstance(value, dict)
        and isinstance(value.get("artifact_id"), str)
        and value.get("artifact_id")
    ):
        return {
            "id": value["artifact_id"],
            "name": str(value.get("name") or value.get("filename") or "file"),
        }
    return None


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= CELL_LIMIT else text[:CELL_LIMIT] + "…"


def _json(value: Any) -> dict:
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    cut = len(text) > JSON_LIMIT
    return {"kind": "json", "text": text[:JSON_LIMIT], "cut": cut, "size": len(text)}


def render_value(value: Any, depth: int = 0) -> dict | None:
    """How a step's input or output reads on the page: a dict the template switches on `kind`."""
    if value is None:
        return None
    if isinstance(value, str):
        cut = len(value) > TEXT_LIMIT
        return {
            "kind": "markdown",
            "html": render_markdown(value[:TEXT_LIMIT]),
            "cut": cut,
            "size": len(value),
        }
    if isinstance(value, bool | int | float):
        return {"kind": "scalar", "text": json.dumps(value)}
    if file := _file(value):
        return {"kind": "file", "file": file}
    if isinstance(value, list) and value and all(_file(v) for v in value):
        return {"kind": "files", "files": [_file(v) for v in value]}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns: list[str] = []
        for row in value[:TABLE_ROWS]:
            columns += [k for k in row if k not in columns]
        columns = columns[:TABLE_COLUMNS]
        return {
            "kind": "table",
            "columns": columns,
            "rows": [[_cell(row.get(c, "")) for c in columns] for row in value[:TABLE_ROWS]],
            "more": max(0, len(value) - TABLE_ROWS),
        }
    if isinstance(value, dict) and depth == 0 and 0 < len(value) <= FIELDS_LIMIT:
        return {
            "kind": "fields",
            "fields": [(str(k), render_value(v, depth + 1)) for k, v in value.items()],
        }
    return _json(value)


def render_args(args: Any) -> dict | None:
    """A step's journaled arguments (app/engine/journal.py `step_args`): the one argument itself,
    else the list (and keyword arguments); past the journal's cap, the preview it kept."""
    if not isinstance(args, dict):
        return None
    if args.get("truncated"):
        return {
            "kind": "json",
            "text": str(args.get("preview", ""))[:JSON_LIMIT],
            "cut": True,
            "size": args.get("size"),
        }
    positional, named = args.get("args") or [], args.get("kwargs") or {}
    if named:
        return render_value({"args": positional, **named})
    return render_value(positional[0] if len(positional) == 1 else positional)


def reused_before(run: Run) -> int:
    """Positions below this one were reused from the run this one reruns (none: 0)."""
    rerun = run.rerun_from or {}
    if not run.rerun_of and not rerun:
        return 0
    return int(rerun.get("seq") or 0) + (1 if rerun.get("edited_output") else 0)


def _decisions(hook: Hook) -> list[dict]:
    """Each person's decision on the hook, in order, with the count of approvals it made
    ("approved by ana@… 10:02, 1 of 2"); only a hook that needs several approvals lists them."""
    required = hook.required or 1
    if required < 2:
        return []
    listed, approvals = [], 0
    for d in hook.decisions or ():
        approvals += d.get("action") == "approve"
        at = d.get("decided_at")
        listed.append(
            {
                "action": ACTION_WORDS.get(d.get("action") or "", d.get("action") or ""),
                "decided_by": d.get("decided_by") or "someone",
                "decided_at": datetime.fromisoformat(at) if isinstance(at, str) else at,
                "count": f"{approvals} of {required}" if d.get("action") == "approve" else "",
            }
        )
    return listed


def _hook_note(hook: Hook) -> dict:
    return {
        "decisions": _decisions(hook),
        "required": hook.required or 1,
        "id": hook.id,
        "status": hook.status,
        "action": ACTION_WORDS.get(hook.action or "", hook.action or ""),
        "decided_by": hook.decided_by,
        "decided_at": hook.decided_at,
        "expires_at": hook.expires_at,
        "feedback": (hook.response or {}).get("feedback")
        if isinstance(hook.response, dict)
        else None,
    }


def step_values(args: Any, output: Any) -> dict:
    """What a step was given and returned, rendered for reading (`r.input`, `r.output` of
    partials/runs/step_values.html)."""
    return {"input": render_args(args), "output": render_value(output)}


def waterfall(
    run: Run, now: datetime | None = None, open_steps: frozenset[int] = frozenset()
) -> dict:
    """The rows of the run page's timeline, its axis (start, end, total ms) and the run's own
    input and output rendered the same way as the steps'. A step's own input and output are
    rendered only for the steps in `open_steps` (shown open); the others load theirs when the
    reader opens them (a 20-step run's page was 29 KB, mostly values nobody had asked to see)."""
    now = now or _now()
    steps = [s for s in people_steps(run) if s.started_at]
    hooks = {h.seq: h for h in run.hooks or ()}
    values = {"input": render_value(run.input), "output": render_value(run.output)}
    if not steps:
        return {"rows": [], "start": None, "end": None, "total_ms": 0, **values}
    t0, t1 = _bounds(run, steps, now)
    span = max((t1 - t0).total_seconds(), 0.001)
    rows = []
    reused = reused_before(run)
    # A rerun may start at a step when every step before it has finished (and the journal is kept).
    rerunnable = not run.journal_pruned_at
    for number, step in enumerate(steps, start=1):
        hook = hooks.get(step.seq) if step.kind == "hook" else None
        end = _end_of(step, hook, now)
        offset, width = _bar(step.started_at, end, t0, span)
        kind = step.kind if step.kind in ("sleep", "hook", "map") else "step"
        rows.append(
            {
                "number": number,
                "name": step.name,
                "kind": kind,
                "status": step.status,
                "attempts": step.attempts or 1,
                "offset": offset,
                "width": width,
                # The row reads as long as its bar (retries and backoff included); the body adds the
                # journaled time of the last attempt when they differ.
                "duration_ms": (end - step.started_at).total_seconds() * 1000,
                "ran_ms": step.duration_ms,
                "started_at": step.started_at,
                "ended_at": step.completed_at,
                "wake_at": step.wake_at,
                "error": (step.error or {}).get("message") if step.error else None,
                "has_values": step.output is not None or isinstance(step.args, dict),
                "open": step.seq in open_steps,
                "hook": _hook_note(hook) if hook else None,
                "model": step.model,
                "tokens_in": step.tokens_in,
                "tokens_out": step.tokens_out,
                "cost_usd": step.cost_usd,
                "seq": step.seq,
                **(step_values(step.args, step.output) if step.seq in open_steps else {}),
                "reused": step.seq < reused,
                "rerun_here": rerunnable,
                "editable": step.kind == "step",
            }
        )
        rerunnable = rerunnable and step.status == "completed"
    return {"rows": rows, "start": t0, "end": t1, "total_ms": span * 1000, **values}
