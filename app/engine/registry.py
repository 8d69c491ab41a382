"""Workflow definitions: name, version, title, input model and the async function.

Several versions of one workflow live side by side; new runs take the highest, a run in flight
keeps the version it started with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from app.core.titles import title_from
from app.engine.errors import WorkflowNotFound

WorkflowFn = Callable[[Any, Any], Awaitable[Any]]
# How a workflow names one run from its validated input ("sales.csv: which region grew?"): every
# start (chat, form, upload, API, CLI) titles its run this way unless the person gave a title.
RunTitler = Callable[[Any], str | None]


@dataclass(frozen=True)
class WorkflowDef:
    name: str
    version: int
    title: str
    description: str
    input_model: type[BaseModel]
    fn: WorkflowFn
    hidden: bool = False  # operator workflows (selftest) stay out of the user-facing catalog
    # A run still unfinished this long after it started is cancelled by the sweep.
    max_duration: timedelta = timedelta(days=7)
    # An operator check (selftest): its runs count toward no quota and announce nothing to anyone.
    operator: bool = False
    titled: RunTitler | None = None
    # False when its transactions keep state under the run's id (a rerun from a later step would
    # find none under the new id): it is then rerun from the start only (docs/engine.md).
    rerun_from_steps: bool = True

    def run_title(self, validated: BaseModel) -> str:
        """The run's title from its validated input (cut near 80 characters), else the workflow's."""
        made = self.titled(validated) if self.titled else None
        return title_from(made) if made and made.strip() else self.title

    def run_title_for(self, data: dict[str, Any]) -> str:
        """`run_title` for input not yet validated: the workflow's title when it is invalid (the
        start refuses it anyway)."""
        try:
            return self.run_title(self.input_model.model_validate(data))
        except ValidationError:
            return self.title

    def input_schema(self) -> dict:
        return self.input_model.model_json_schema()


_registry: dict[tuple[str, int], WorkflowDef] = {}


def workflow(
    *,
    name: str,
    title: str,
    description: str,
    input: type[BaseModel],
    version: int = 1,
    hidden: bool = False,
    max_duration: timedelta = timedelta(days=7),
    operator: bool = False,
    titled: RunTitler | None = None,
    rerun_from_steps: bool = True,
) -> Callable[[WorkflowFn], WorkflowFn]:
    def register(fn: WorkflowFn) -> WorkflowFn:
        key = (name, version)
        existing = _registry.get(key)
        if existing and existing.fn is not fn:
            raise ValueError(f"workflow {name!r} version {version} is registered twice")
        _registry[key] = WorkflowDef(
            name,
            version,
            title,
            description,
            input,
            fn,
            hidden,
            max_duration,
            operator,
            titled,
            rerun_from_steps,
        )
        return fn

    return register


def get_workflow(name: str, version: int | None = None) -> WorkflowDef:
    if version is None:
        versions = [v for (n, v) in _registry if n == name]
        if not versions:
            raise WorkflowNotFound(f"no workflow named {name!r}")
        version = max(versions)
    try:
        return _registry[(name, version)]
    except KeyError:
        raise WorkflowNotFound(f"workflow {name!r} has no version {version}") from None


def catalog(include_hidden: bool = False) -> list[WorkflowDef]:
    """The newest version of each workflow, by title."""
    newest: dict[str, WorkflowDef] = {}
    for (name, version), wf in _registry.items():
        if (include_hidden or not wf.hidden) and (
            name not in newest or version > newest[name].version
        ):
            newest[name] = wf
    return sorted(newest.values(), key=lambda w: w.title)
