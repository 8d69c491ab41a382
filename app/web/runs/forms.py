"""A form for any workflow, generated from its pydantic input model's JSON schema.

    fields = form_fields(wf.input_model, values)     # what to render (partials/chat/workflow_form.html)
    data = form_input(wf.input_model, form_values)    # what to hand to start_run, which validates

Strings become text inputs (a textarea when the field says `json_schema_extra={"widget": "textarea"}`),
numbers number inputs, booleans checkboxes, enums selects; `{"advanced": True}` fields go under
"More options". Validation is the engine's (`start_run` raises InputInvalid with per-field
messages), so the form, the slash commands and the API refuse exactly the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

TRUE = ("on", "true", "1", "yes")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    widget: str  # text, textarea, number, checkbox, select
    required: bool
    value: str
    hint: str = ""
    options: list[str] = field(default_factory=list)
    advanced: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)  # maxlength, min, max, step


def _plain(schema: dict, defs: dict) -> tuple[dict, bool]:
    """The property's own schema (an Optional's non-null branch, a $ref resolved) and whether null is allowed."""
    nullable = False
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
        nullable = len(branches) < len(schema["anyOf"])
        merged = {k: v for k, v in schema.items() if k != "anyOf"}
        schema = {**(branches[0] if branches else {}), **merged}
    if "$ref" in schema:
        ref = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
        schema = {**ref, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema, nullable


def form_fields(model: type[BaseModel], values: dict[str, str] | None = None) -> list[FieldSpec]:
    schema = model.model_json_schema()
    defs, required = schema.get("$defs", {}), set(schema.get("required", []))
    values = values or {}
    fields = []
    for name, prop in schema.get("properties", {}).items():
        prop, nullable = _plain(prop, defs)
        kind = prop.get("type")
        attrs: dict[str, Any] = {}
        default = prop.get("default")
        if "enum" in prop:
            widget = "select"
        elif kind == "boolean":
            widget = "checkbox"
        elif kind in ("integer", "number"):
            widget = "number"
            attrs["step"] = "1" if kind == "integer" else "any"
            for key, attr in (("minimum", "min"), ("maximum", "max")):
                if key in prop:
                    attrs[attr] = prop[key]
        else:
            widget = "textarea" if prop.get("widget") == "textarea" else "text"
            if "maxLength" in prop:
                attrs["maxlength"] = prop["maxLength"]
        if name in values:
            value = values[name]
        elif widget == "checkbox":
            value = "on" if default else ""
        else:
            value = "" if default is None else str(default)
        fields.append(
            FieldSpec(
                name=name,
                label=prop.get("title") or name.replace("_", " ").capitalize(),
                widget=widget,
                required=name in required and not nullable,
                value=value,
                hint=prop.get("description", ""),
                options=[str(o) for o in prop.get("enum", [])],
                advanced=bool(prop.get("advanced")),
                attrs=attrs,
            )
        )
    return fields


def form_input(model: type[BaseModel], form: dict[str, Any]) -> dict[str, Any]:
    """The submitted strings as the input dict: blank fields left out (their defaults apply, or the
    engine reports them missing), checkboxes as booleans, nothing that is not a field."""
    data: dict[str, Any] = {}
    for spec in form_fields(model):
        raw = form.get(spec.name)
        if spec.widget == "checkbox":
            data[spec.name] = isinstance(raw, str) and raw.lower() in TRUE
        elif isinstance(raw, str) and raw.strip():
            data[spec.name] = raw.strip()
    return data


def field_errors(errors: list[dict]) -> dict[str, str]:
    """InputInvalid.errors as {field: message}, worded for people."""
    out: dict[str, str] = {}
    for error in errors:
        name = str(error.get("field") or "input").split(".")[0]
        message = str(error.get("message") or "Invalid value.").removeprefix("Value error, ")
        if message == "Field required":
            message = "This field is required."
        out.setdefault(name, message)
    return out
