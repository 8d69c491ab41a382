"""Rerun from a step, from the run page: a form to edit the step's output and/or the run's input
(as JSON, checked field by field), then a new run through the one start path (`rerun_run` in
start.py) that reuses the original's results before that step. Also the download of a step's
whole input or output when the page shows it cut, and a step's values rendered when the reader
opens that step on the run page. Another space's run is a 404; rerunning
needs a role that may operate runs (403 for a viewer)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.core.policy import Action
from app.core.sql_queries import load_queries
from app.engine import commands
from app.engine.errors import RunNotFound
from app.engine.rows import Run, Step
from app.web.auth import requires_login
from app.web.runs import timeline
from app.web.runs.access import find_run, space_id
from app.web.runs.start import Refused, rerun_run

SQL = load_queries(__file__)
STEP_VALUE = SQL["step_value"]
SOURCE_TITLE = SQL["source_title"]

VALUE_LIMIT = 256 * 1024  # characters of edited JSON accepted per field
PARTS = {"input.json": "args", "output.json": "output"}


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


async def source_of(conn, run: Run, space_id: int) -> dict | None:
    """The run `run` reruns, as {id, title}, for the link on its page (None when it is gone)."""
    if not run.rerun_of:
        return None
    return await (
        await conn.execute(SOURCE_TITLE, {"id": run.rerun_of, "space_id": space_id})
    ).fetchone()


def _target(run: Run, seq: int | None) -> Step | None:
    return next((s for s in run.steps if s.seq == seq), None) if seq is not None else None


def _context(run: Run, step: Step | None, form: dict[str, str], errors: dict[str, str]) -> dict:
    return {
        "run": run,
        "step": step,
        "form": form,
        "errors": errors,
        "editable": bool(step and step.kind == "step"),
    }


@get("/{run_id:uuid}/rerun")
async def rerun_form(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    run_id: FromPath[UUID],
    step: FromQuery[int | None] = None,
) -> Template:
    async with pool.connection() as conn:
        run = await find_run(conn, request, run_id, Action.OPERATE)
    target = _target(run, step)
    form = {
        "step": "" if target is None else str(target.seq),
        "input": _pretty(run.input),
        "step_output": _pretty(target.output) if target and target.output is not None else "",
        "edit_output": "",
    }
    return Template("pages/runs/rerun.html", context=_context(run, target, form, {}))


def _parse(text: str, field: str, errors: dict[str, str]) -> Any:
    if len(text) > VALUE_LIMIT:
        errors[field] = (
            f"At most {VALUE_LIMIT // 1024} KB of JSON ({len(text) // 1024} KB written)."
        )
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        errors[field] = f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        return None


@post("/{run_id:uuid}/rerun")
async def rerun(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Response:
    raw = await request.form()
    form = {
        k: (v if isinstance(v, str) else "")
        for k, v in ((k, raw.get(k)) for k in ("step", "input", "step_output", "edit_output"))
    }
    errors: dict[str, str] = {}
    seq = int(form["step"]) if form["step"].isdigit() and len(form["step"]) < 9 else None
    if form["step"] and seq is None:
        errors["from_step"] = "Choose a step of this run."
    new_input = _parse(form["input"], "input", errors) if form["input"].strip() else None
    if new_input is not None and not isinstance(new_input, dict):
        errors["input"] = 'The input is a JSON object: { "field": value, … }.'
    step_output = commands.NOT_EDITED
    if form["edit_output"]:
        step_output = _parse(form["step_output"], "step_output", errors)
    async with pool.connection() as conn:
        run = await find_run(conn, request, run_id, Action.OPERATE)
        outcome = None
        if not errors:
            outcome = await rerun_run(
                conn,
                run_id,
                user_id=request.user.id,
                space_id=space_id(request),
                from_step=seq,
                input=new_input,
                step_output=step_output,
            )
    if outcome is not None and not isinstance(outcome, Refused):
        return Redirect(f"/workflows/{outcome.run_id}", status_code=303)
    if isinstance(outcome, Refused):
        errors.update(outcome.fields if outcome.fields else {"form": outcome.message})
    # Input fields the workflow refused are shown under the input box, each named.
    known = {"form", "input", "step_output", "from_step"}
    input_fields = {k: v for k, v in errors.items() if k not in known}
    context = _context(run, _target(run, seq), form, errors) | {"input_fields": input_fields}
    return Template("pages/runs/rerun.html", context=context, status_code=422)


async def _step_row(request: Request, pool: AsyncConnectionPool, run_id: UUID, seq: int) -> dict:
    """One journaled step of a run of the reader's space (its args and output), or 404."""
    if not 0 <= seq < 2**31:
        raise RunNotFound("no such step")
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                STEP_VALUE, {"run_id": run_id, "seq": seq, "space_id": space_id(request)}
            )
        ).fetchone()
    if row is None:
        raise RunNotFound("no such step")
    return row


@get("/{run_id:uuid}/steps/{seq:int}")
async def step_values(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    run_id: FromPath[UUID],
    seq: FromPath[int],
) -> Template:
    """What one step was given and returned, as the run page shows it once the step is opened."""
    row = await _step_row(request, pool, run_id, seq)
    return Template(
        "partials/runs/step_values.html",
        context={
            "run": {"id": run_id},
            "r": {"seq": seq, **timeline.step_values(row.get("args"), row.get("output"))},
        },
    )


@get("/{run_id:uuid}/steps/{seq:int}/{part:str}")
async def step_value(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    run_id: FromPath[UUID],
    seq: FromPath[int],
    part: FromPath[str],
) -> Response:
    """A step's whole output (or the arguments its journal kept) as a JSON file."""
    if part not in PARTS:
        raise RunNotFound("no such step")
    row = await _step_row(request, pool, run_id, seq)
    name = f"run-{str(run_id)[:8]}-position-{seq}-{part}"
    return Response(
        _pretty(row[PARTS[part]]),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


router = Router(
    path="/workflows",
    guards=[requires_login],
    route_handlers=[rerun_form, rerun, step_values, step_value],
)
