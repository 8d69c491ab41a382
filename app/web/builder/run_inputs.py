"""A template's inputs as a form, the same look as a workflow's (partials/chat/workflow_field.html):

fields = input_fields(doc, values)   # FieldSpecs to render
data = form_input(doc, form)         # the submitted strings as the run's input (the start path validates)
"""

from __future__ import annotations

from typing import Any

from app.web.runs.forms import TRUE, FieldSpec

# Each input kind of the format as a widget of the generated form.
WIDGETS = {
    "short_text": "text",
    "text": "text",
    "long_text": "textarea",
    "number": "number",
    "yes_no": "checkbox",
    "boolean": "checkbox",
    "choice": "select",
    "datetime": "text",
    "date_time": "text",
    "list_of_text": "textarea",
    "text_list": "textarea",
    "list": "textarea",
}
HINTS = {
    "datetime": "A date and time, e.g. 2026-12-24 18:00.",
    "date_time": "A date and time, e.g. 2026-12-24 18:00.",
    "list_of_text": "One a line.",
    "text_list": "One a line.",
    "list": "One a line.",
}
LISTS = ("list_of_text", "text_list", "list")


def _inputs(doc: dict) -> list[dict]:
    return [
        i
        for i in (doc.get("inputs") or [])
        if isinstance(i, dict) and isinstance(i.get("name"), str) and i["name"]
    ]


def _kind(spec: dict) -> str:
    return str(spec.get("kind") or spec.get("type") or "short_text")


def input_fields(doc: dict, values: dict[str, str]) -> list[FieldSpec]:
    fields = []
    for spec in _inputs(doc):
        kind = _kind(spec)
        if kind.startswith("file"):
            continue  # files are given on the run's upload form, not here
        widget = WIDGETS.get(kind, "text")
        name = spec["name"]
        default = spec.get("default")
        value = values.get(
            name,
            ""
            if default is None
            else "\n".join(default)
            if isinstance(default, list)
            else str(default),
        )
        if widget == "checkbox" and name not in values:
            value = "on" if default else ""
        options = [str(o) for o in spec.get("choices") or spec.get("options") or []]
        fields.append(
            FieldSpec(
                name=name,
                label=str(spec.get("label") or name.replace("_", " ").capitalize()),
                widget=widget,
                required=bool(spec.get("required", True)) and widget != "checkbox",
                value=value,
                hint=str(
                    spec.get("help")
                    or spec.get("hint")
                    or spec.get("description")
                    or HINTS.get(kind, "")
                ),
                options=options,
            )
        )
    return fields


def form_input(doc: dict, form: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for spec in _inputs(doc):
        name, kind = spec["name"], _kind(spec)
        raw = form.get(name)
        if WIDGETS.get(kind) == "checkbox":
            data[name] = isinstance(raw, str) and raw.lower() in TRUE
        elif isinstance(raw, str) and raw.strip():
            data[name] = (
                [line.strip() for line in raw.splitlines() if line.strip()]
                if kind in LISTS
                else raw.strip()
            )
    return data
