"""A schedule as someone asks for it (form, API, CLI), checked field by field before it is saved.

    draft = check_draft(name=..., workflow="content-generation", input={...}, cron="0 9 * * 1-5",
                        time_zone="Europe/Paris")        # DraftInvalid(.errors = {field: message})

The same words for every entry: the web shows each message next to its field, the API answers
them in a 422, the CLI prints them and exits 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel, ValidationError

from app.core.local_time import BadTimeZone, parse_zone
from app.engine.errors import WorkflowNotFound
from app.engine.registry import WorkflowDef, get_workflow
from app.schedules.spec import BadSpec, make_spec
from app.templates.start import TemplateChoice, choose
from app.templates.store import TemplateNotFound

OVERLAPS = ("skip", "buffer-one", "allow-all", "cancel-previous")
CATCH_UPS = ("latest", "all", "none")
MAX_NAME = 120
MAX_NOTE = 500
MAX_INPUT_BYTES = 64_000


class DraftInvalid(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Draft:
    name: str
    workflow: str | None
    input: dict[str, Any]
    cron: str | None
    every_s: int | None
    time_zone: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    overlap: str = "skip"
    catch_up: str = "latest"
    catch_up_window_s: int = 86400
    pause_after_failures: int | None = None
    template_id: int | None = None  # the target when `workflow` is None


async def find_template(
    conn: AsyncConnection, user_id: int, slug: str, space_id: int | None = None
) -> TemplateChoice | None:
    """The current version of a template the user may run in the space, by slug; None if none."""
    try:
        return await choose(conn, user_id=user_id, slug=slug.strip()[:100], space_id=space_id)
    except TemplateNotFound:
        return None


def schedulable_workflow(name: str) -> WorkflowDef | None:
    """A workflow people may start (operator checks are not schedulable)."""
    try:
        wf = get_workflow(name)
    except WorkflowNotFound:
        return None
    return None if wf.hidden else wf


def input_errors(model: type[BaseModel], data: dict[str, Any]) -> dict[str, str]:
    """The input checked now, as the start will check it at each fire: {"input.topic": message}."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        out: dict[str, str] = {}
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "input"
            message = str(e["msg"]).removeprefix("Value error, ")
            out.setdefault(
                f"input.{field}",
                "This field is required." if message == "Field required" else message,
            )
        return out
    return {}


def check_draft(
    *,
    name: str | None,
    workflow: str | None,
    input: Any,
    cron: str | None = None,
    every: str | None = None,
    time_zone: str | None,
    default_zone: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    overlap: str | None = None,
    catch_up: str | None = None,
    catch_up_window_s: int | None = None,
    pause_after_failures: int | None = None,
    template: TemplateChoice | None = None,
    template_slug: str | None = None,
) -> Draft:
    """`template` is the target found for `template_slug` (find_template), None if none was found."""
    errors: dict[str, str] = {}
    wf = schedulable_workflow(workflow or "") if workflow else None
    model = template.input_model() if template else wf.input_model if wf else None
    if workflow and template_slug:
        errors["workflow"] = "Choose a workflow or a template, not both."
    elif template_slug:
        if template is None:
            errors["template"] = f"There is no template “{template_slug[:100]}” you may run."
    elif not workflow:
        errors["workflow"] = "Choose the workflow to start."
    elif wf is None:
        errors["workflow"] = f"There is no workflow named “{workflow[:100]}”."
    zone = None
    try:
        zone = parse_zone(time_zone) or parse_zone(default_zone) or "UTC"
    except BadTimeZone as exc:
        errors["time_zone"] = str(exc)
    spec = None
    if cron and every:
        errors["spec"] = "Give either a cron expression or an interval, not both."
    else:
        try:
            spec = make_spec(cron=cron, every=every, zone=zone or "UTC")
        except BadSpec as exc:
            errors["spec"] = str(exc)
    if not isinstance(input, dict):
        errors["input"] = "The input is a JSON object."
    elif len(repr(input)) > MAX_INPUT_BYTES:
        errors["input"] = "The input is too large."
    elif model is not None:
        errors |= input_errors(model, input)
    overlap = overlap or "skip"
    if overlap not in OVERLAPS:
        errors["overlap"] = f"Overlap is one of {', '.join(OVERLAPS)}."
    catch_up = catch_up or "latest"
    if catch_up not in CATCH_UPS:
        errors["catch_up"] = f"Catch-up is one of {', '.join(CATCH_UPS)}."
    window = catch_up_window_s or 86400
    if not 1 <= window <= 366 * 86400:
        errors["catch_up_window"] = "The catch-up window is between 1 second and 366 days."
    if pause_after_failures is not None and not 1 <= pause_after_failures <= 1000:
        errors["pause_after_failures"] = (
            "Pause after 1 to 1000 failed runs in a row, or leave it empty."
        )
    if starts_at and ends_at and ends_at <= starts_at:
        errors["ends_at"] = "The end is after the start."
    target_title = template.title if template else wf.title if wf else ""
    clean_name = " ".join((name or "").split())[:MAX_NAME] or target_title
    if not clean_name and (wf or template):  # without a target, that is the error to fix first
        errors["name"] = "Give the schedule a name."
    if errors:
        raise DraftInvalid(errors)
    assert (wf is not None or template is not None) and spec is not None and zone is not None
    return Draft(
        name=clean_name,
        workflow=None if template else wf.name,
        template_id=template.template_id if template else None,
        input=input,
        cron=spec.cron,
        every_s=spec.every_s,
        time_zone=zone,
        starts_at=starts_at,
        ends_at=ends_at,
        overlap=overlap,
        catch_up=catch_up,
        catch_up_window_s=window,
        pause_after_failures=pause_after_failures,
    )
