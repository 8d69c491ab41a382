"""The schedule form: its fields as posted (prefixed `sched_`, so they never meet the target's own
input fields, which keep their names), read into `check_draft`, and back into values to show.

One "When" field takes either a cron expression ("0 9 * * 1-5", "@daily") or an interval ("15m",
"every 6h"): a text that reads as an interval is one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.core.local_time import BadTimeZone, parse_zone
from app.schedules.drafts import (
    CATCH_UPS,
    OVERLAPS,
    Draft,
    DraftInvalid,
    check_draft,
    schedulable_workflow,
)
from app.schedules.spec import duration_text
from app.templates.start import TemplateChoice
from app.web.runs.forms import form_input

_INTERVAL = re.compile(r"^\s*(?:every\s+)?((?:\d+\s*[smhdSMHD]\s*)+)$")
MAX_FIELD = 500
OVERLAP_WORDS = {
    "skip": "Skip the new fire",
    "buffer-one": "Start it when the running one ends (one at most)",
    "allow-all": "Start it anyway",
    "cancel-previous": "Cancel the running one and start",
}
CATCH_UP_WORDS = {
    "latest": "Run the most recent missed fire",
    "all": "Run every missed fire (within a day)",
    "none": "Run none of them",
}


@dataclass(frozen=True)
class When:
    cron: str | None
    every: str | None


def split_when(text: str) -> When:
    """ "15m" / "every 6h" → an interval; anything else is read as a cron expression."""
    match = _INTERVAL.match(text or "")
    if match:
        return When(None, match.group(1))
    return When(text.strip() or None, None)


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def _local_moment(
    text: str, zone: str | None, field: str, errors: dict[str, str]
) -> datetime | None:
    """A `datetime-local` value read in the schedule's zone."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=ZoneInfo(zone or "UTC"))
    except ValueError:
        errors[field] = "Give a date and time."
        return None


def form_values(form: Any) -> dict[str, str]:
    """Every posted value, to show the form again as it was typed."""
    return {k: v[:MAX_FIELD] for k, v in form.items() if isinstance(v, str) and k != "_csrf_token"}


def read_form(form: Any, default_zone: str | None, template: TemplateChoice | None = None) -> Draft:
    """The posted form as a checked Draft; DraftInvalid names each wrong field by its form name
    (`sched_when`, `sched_tz`, … and the target's own input names). A picked "template:<slug>" is the
    target `template` (found by the caller; None if there is no such template for this person)."""
    errors: dict[str, str] = {}
    picked = _text(form, "sched_workflow")
    slug = picked.removeprefix("template:") if picked.startswith("template:") else None
    workflow = None if slug else picked
    wf = schedulable_workflow(workflow) if workflow else None
    model = template.input_model() if template else wf.input_model if wf else None
    data = form_input(model, form) if model else {}
    when = split_when(_text(form, "sched_when"))
    zone_text = _text(form, "sched_tz")
    try:
        zone = parse_zone(zone_text) or default_zone
    except BadTimeZone:
        zone = None  # check_draft words the error
    starts_at = _local_moment(_text(form, "sched_starts"), zone, "sched_starts", errors)
    ends_at = _local_moment(_text(form, "sched_ends"), zone, "sched_ends", errors)
    pause_after = _text(form, "sched_pause_after").strip()
    pause_n = None
    if pause_after:
        if pause_after.isdigit():
            pause_n = int(pause_after[:5])
        else:
            errors["sched_pause_after"] = "A whole number of failed runs, or empty."
    try:
        draft = check_draft(
            name=_text(form, "sched_name"),
            workflow=workflow,
            template=template,
            template_slug=slug,
            input=data,
            cron=when.cron,
            every=when.every,
            time_zone=zone_text or None,
            default_zone=default_zone,
            starts_at=starts_at,
            ends_at=ends_at,
            overlap=_text(form, "sched_overlap") or None,
            catch_up=_text(form, "sched_catch_up") or None,
            pause_after_failures=pause_n,
        )
    except DraftInvalid as exc:
        raise DraftInvalid(errors | {_form_field(k): v for k, v in exc.errors.items()}) from None
    if errors:
        raise DraftInvalid(errors)
    return draft


def _form_field(name: str) -> str:
    if name.startswith("input."):
        return name.removeprefix("input.").split(".")[0]
    return {
        "spec": "sched_when",
        "time_zone": "sched_tz",
        "workflow": "sched_workflow",
        "name": "sched_name",
        "overlap": "sched_overlap",
        "catch_up": "sched_catch_up",
        "ends_at": "sched_ends",
        "pause_after_failures": "sched_pause_after",
        "input": "sched_workflow",
        "template": "sched_workflow",
    }.get(name, name)


def _local_input(value: datetime | None, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value else ""


def values_of(schedule: dict) -> dict[str, str]:
    """A saved schedule as form values (the edit form), its input fields under their own names."""
    target = (
        f"template:{schedule['template']}"
        if schedule.get("template_id")
        else schedule["workflow"] or ""
    )
    values = {
        "sched_name": schedule["name"],
        "sched_workflow": target,
        "sched_when": schedule["cron"] or duration_text(schedule["every_s"] or 0),
        "sched_tz": schedule["time_zone"],
        "sched_overlap": schedule["overlap"],
        "sched_catch_up": schedule["catch_up"],
        "sched_starts": _local_input(schedule["starts_at"], schedule["time_zone"]),
        "sched_ends": _local_input(schedule["ends_at"], schedule["time_zone"]),
        "sched_pause_after": str(schedule["pause_after_failures"] or ""),
    }
    for key, value in (schedule["input"] or {}).items():
        values[key] = ("on" if value else "") if isinstance(value, bool) else str(value)
    return values


__all__ = [
    "CATCH_UPS",
    "CATCH_UP_WORDS",
    "OVERLAPS",
    "OVERLAP_WORDS",
    "read_form",
    "split_when",
    "values_of",
]
