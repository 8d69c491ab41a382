"""What a trigger can start: a built-in workflow people may start (the catalog, operator ones left
out) or a template the owner may run (their own, one shared with them, the gallery's) — and the
input fields each takes, which the mapping fills.

A target is named by a key, `workflow:<name>` or `template:<id>`, in forms and on the trigger's row
(`workflow` or `template_id`). A template target runs the template's current version at each
delivery, as starting it by hand would.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection
from pydantic import BaseModel

from app.engine.errors import WorkflowNotFound
from app.engine.registry import catalog, get_workflow
from app.templates import store as templates
from app.templates.start import TemplateChoice, choose

WORKFLOW, TEMPLATE = "workflow:", "template:"
TEMPLATE_GROUPS = (
    ("mine", "Your templates"),
    ("shared", "Shared with you"),
    ("gallery", "Gallery"),
)


@dataclass(frozen=True)
class InputField:
    name: str
    title: str
    required: bool
    description: str


@dataclass(frozen=True)
class Target:
    key: str
    title: str
    input_model: type[BaseModel]
    workflow: str | None = None
    template: TemplateChoice | None = None

    @property
    def template_id(self) -> int | None:
        return self.template.template_id if self.template else None


@dataclass(frozen=True)
class Choice:
    key: str
    title: str
    group: str


def workflow_key(name: str) -> str:
    return WORKFLOW + name


def key_of(trigger: dict) -> str:
    return (
        f"{TEMPLATE}{trigger['template_id']}"
        if trigger.get("template_id")
        else workflow_key(trigger["workflow"] or "")
    )


def workflow_target(name: str) -> Target | None:
    try:
        wf = get_workflow(name)
    except WorkflowNotFound:
        return None
    return (
        None
        if wf.hidden
        else Target(workflow_key(wf.name), wf.title, wf.input_model, workflow=wf.name)
    )


async def template_target(
    conn: AsyncConnection, user_id: int, template_id: int, space_id: int | None = None
) -> Target | None:
    """The template's current version, if the user may run it in the space (its run starts there)."""
    try:
        chosen = await choose(conn, user_id=user_id, template_id=template_id, space_id=space_id)
    except templates.TemplateNotFound:
        return None
    return Target(f"{TEMPLATE}{template_id}", chosen.title, chosen.input_model(), template=chosen)


async def resolve(
    conn: AsyncConnection, user_id: int, key: str, space_id: int | None = None
) -> Target | None:
    """The target a key names, if the user may start it in the space (None: their personal one)."""
    if key.startswith(WORKFLOW):
        return workflow_target(key.removeprefix(WORKFLOW))
    digits = key.removeprefix(TEMPLATE)
    if key.startswith(TEMPLATE) and digits.isdigit() and 0 < int(digits) < 2**63:
        return await template_target(conn, user_id, int(digits), space_id)
    return None


async def target_of(conn: AsyncConnection, trigger: dict) -> Target | None:
    """What a stored trigger starts now (None: its template was deleted or is no longer shared with its owner)."""
    return await resolve(conn, trigger["owner_id"], key_of(trigger), trigger.get("space_id"))


async def choices(conn: AsyncConnection, user_id: int, space_id: int | None = None) -> list[Choice]:
    """Every target the user may pick: the workflows, then the space's templates, the shared ones,
    the gallery's."""
    found = [Choice(workflow_key(wf.name), wf.title, "Workflows") for wf in catalog()]
    listed = await templates.list_templates(conn, user_id=user_id, space_id=space_id)
    for group, label in TEMPLATE_GROUPS:
        found += [Choice(f"{TEMPLATE}{t['id']}", t["title"], label) for t in listed.get(group, [])]
    return found


def input_fields(model: type[BaseModel]) -> list[InputField]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        InputField(
            name,
            prop.get("title") or name.replace("_", " ").capitalize(),
            name in required,
            prop.get("description", ""),
        )
        for name, prop in schema.get("properties", {}).items()
    ]


def default_mapping(model: type[BaseModel]) -> dict[str, str]:
    """Each input field from the body's key of the same name."""
    return {f.name: "/" + f.name.replace("~", "~0").replace("/", "~1") for f in input_fields(model)}
