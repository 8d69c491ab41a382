"""What a trigger can start: the workflows people may start (the catalog, operator ones left out),
and the input fields each one takes (what the mapping fills)."""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.errors import WorkflowNotFound
from app.engine.registry import WorkflowDef, catalog, get_workflow


@dataclass(frozen=True)
class InputField:
    name: str
    title: str
    required: bool
    description: str


def workflow_target(name: str) -> WorkflowDef | None:
    try:
        wf = get_workflow(name)
    except WorkflowNotFound:
        return None
    return None if wf.hidden else wf


def workflow_targets() -> list[WorkflowDef]:
    return catalog()


def input_fields(wf: WorkflowDef) -> list[InputField]:
    schema = wf.input_model.model_json_schema()
    required = set(schema.get("required", []))
    return [InputField(name, prop.get("title") or name.replace("_", " ").capitalize(), name in required,
                       prop.get("description", ""))
            for name, prop in schema.get("properties", {}).items()]


def default_mapping(wf: WorkflowDef) -> dict[str, str]:
    """Each input field from the body's key of the same name."""
    return {f.name: "/" + f.name.replace("~", "~0").replace("/", "~1") for f in input_fields(wf)}
