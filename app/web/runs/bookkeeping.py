"""Journal entries that are the engine's bookkeeping, not a step anyone asked for: a template run's
`load template` (the document it runs, written by the start path so the worker replays it,
docs/templates.md). The run's card, the run page's timeline and step count, the dashboard's step
column and the API's step list leave it out; the journal keeps it for replay, reruns and
`baton check-deploy`."""

from __future__ import annotations

from app.engine.rows import Run, Step
from app.templates.interpreter import LOAD_STEP, TEMPLATE_WORKFLOW


def is_bookkeeping(workflow: str, seq: int, name: str) -> bool:
    return workflow == TEMPLATE_WORKFLOW and seq == 0 and name == LOAD_STEP


def people_steps(run: Run) -> list[Step]:
    """The run's journaled steps as people read them."""
    return [s for s in run.steps if not is_bookkeeping(run.workflow, s.seq, s.name)]


def steps_shown(steps_done: int, workflow: str) -> int:
    """The count of done steps a person sees (`{{ run.steps_done|steps_shown(run.workflow) }}`): a
    template run's first done step is its `load template` entry."""
    if workflow == TEMPLATE_WORKFLOW and steps_done > 0:
        return steps_done - 1
    return steps_done
