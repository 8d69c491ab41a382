"""The fields a hook asks a person to fill (a template's `ask_person` block puts them in the hook's
`show["form"]`, in the template format's input-field shape), on every page that decides hooks:

specs = hook_fields(hook)                   # the fields as the decision form renders them
data, errors = parse_hook_fields(hook.show, form, zone)  # the submitted strings, checked per field

The form's names are prefixed (`field-<name>`) so a field called `action` or `feedback` cannot clash
with the decision form's own inputs. The strings are turned into values here and checked by
app.templates.answers `check_answer`, the check the JSON API and the CLI apply too, so a hook answer
obeys exactly the rules of the block's fields whichever way it arrives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.core.local_time import zone_of
from app.templates.answers import answer_fields, check_answer
from app.templates.format import InputField

PREFIX = "field-"
TRUE = {"on", "true", "yes", "1"}
WIDGETS = {
    "short_text": "text",
    "long_text": "textarea",
    "number": "number",
    "yes_no": "checkbox",
    "choice": "select",
    "datetime": "datetime",
    "text_list": "textarea",
}
HINTS = {"text_list": "One a line.", "datetime": "Your time zone unless you give another."}


def _fields(hook: dict) -> list[InputField]:
    return answer_fields(hook.get("show"))


def _default(field: InputField) -> str:
    value = field.default
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if isinstance(value, bool):
        return "on" if value else ""
    return str(value)


def hook_fields(hook: dict) -> list[dict[str, Any]]:
    """Each field as the form shows it; `value` is the default (the form puts a resubmitted value
    over it)."""
    return [
        {
            "name": PREFIX + f.name,
            "label": f.label or f.name.replace("_", " ").capitalize(),
            "widget": WIDGETS[f.kind],
            "required": f.required and f.default is None and f.kind != "yes_no",
            "value": _default(f),
            "hint": f.help or HINTS.get(f.kind, ""),
            "options": [str(c) for c in f.choices or []],
        }
        for f in _fields(hook)
    ]


def _datetime(raw: str, zone: str | None) -> str:
    try:
        when = datetime.fromisoformat(raw.replace(" ", "T"))
    except ValueError:
        return raw  # the model's message says what is wrong
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone_of(zone))
    return when.isoformat()


def parse_hook_fields(
    show: Any, form: dict[str, Any], zone: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers (JSON values by field name) and the problems (by form name), from the hook's
    `show`; empty without fields."""
    fields = answer_fields(show)
    if not fields:
        return {}, {}
    data: dict[str, Any] = {}
    for f in fields:
        raw = form.get(PREFIX + f.name)
        if f.kind == "yes_no":
            data[f.name] = isinstance(raw, str) and raw.strip().lower() in TRUE
        elif not isinstance(raw, str) or not raw.strip():
            continue
        elif f.kind == "text_list":
            data[f.name] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif f.kind == "datetime":
            data[f.name] = _datetime(raw.strip(), zone)
        else:
            data[f.name] = raw.strip()
    values, problems = check_answer(fields, data)
    return values, {
        (PREFIX + name if name != "form" else name): message for name, message in problems.items()
    }
