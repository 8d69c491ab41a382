"""The workflow-specific sections of the run card ("panels"), registered explicitly.

A panel is a function of the run (`get_run`'s `Run` as a dict, app/engine/rows.py `as_dict`: the
panels index its steps and hooks by name, and are tested on plain dicts) giving {"template": a partial included
in the card, "decides": True when it renders its own decision form for the waiting hook, ...what
the partial shows}. A panel that needs the database (e.g. a publishing schedule) returns `load`: an
async function of the connection whose dict is merged in.

Each workflow's web module exports its panels as `PANELS = {workflow name: panel}`; the app
registers them when it is built (app/web/app.py `register_panels`), so a card never depends on
which modules happen to have been imported. A panel reads the run's steps by the names its
workflow module exports as constants (e.g. app/workflows/documents.py `EXTRACT_STEP`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from psycopg import AsyncConnection

from app.engine.rows import Run, as_dict

Panel = Callable[[dict], dict]
_PANELS: dict[str, Panel] = {}


def register_panels(*groups: Mapping[str, Panel]) -> None:
    """Register each workflow's panel. Registering the same panel again is harmless (every app
    built in one process registers them); two different panels for one workflow are a mistake."""
    for group in groups:
        for workflow, panel in group.items():
            if _PANELS.setdefault(workflow, panel) is not panel:
                raise ValueError(f"two run-card panels for the workflow {workflow!r}")


async def workflow_panel(conn: AsyncConnection, run: Run) -> dict | None:
    """The run's panel, if its workflow registered one."""
    make = _PANELS.get(run.workflow)
    panel = make(as_dict(run)) if make else None
    if panel and "load" in panel:
        panel = {k: v for k, v in panel.items() if k != "load"} | await panel["load"](conn)
    return panel
