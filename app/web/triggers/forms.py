"""The trigger form: name, target, how the body maps onto the target's input, auth mode and rate.

The target is a key (`workflow:<name>` or `template:<id>`, app/triggers/targets.py). The mapping
has one box per input field of the chosen target, named `map.<field>`, holding a JSON pointer into
the delivered body (blank: the field is not taken from the body). When the target changes, the form
is shown again with the new target's fields (`mapped_for` names the target the boxes were made
for), so a browser without JavaScript gets there too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from litestar import Request
from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.triggers import store
from app.triggers.mapping import check_mapping
from app.triggers.targets import InputField, Target, default_mapping, input_fields, resolve
from app.web.auth.forms import parse_form

MAP_PREFIX = "map."


class TriggerForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=store.MAX_NAME)
    target: str = Field(max_length=120)
    auth_mode: Literal["hmac", "bearer"] = "hmac"
    rate_per_minute: int = Field(default=store.DEFAULT_RATE, ge=1, le=6000)
    pass_through: bool = False
    mapped_for: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("Give the trigger a name, e.g. the system that will call it.")
        if "\x00" in value:
            raise ValueError("The name may not contain NUL characters.")
        return value

    @field_validator("pass_through", mode="before")
    @classmethod
    def _checkbox(cls, value: object) -> bool:
        return isinstance(value, str) and value.lower() in ("on", "true", "1", "yes")


@dataclass
class MappingRow:
    field: InputField
    pointer: str
    error: str = ""


@dataclass
class ParsedTrigger:
    data: TriggerForm | None
    target: Target | None
    mapping: dict[str, str] | None
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    retargeted: bool = False  # the target changed: show its mapping, save nothing yet


def mapping_rows(
    target: Target | None, mapping: dict[str, str] | None, errors: dict[str, str] | None = None
) -> list[MappingRow]:
    """One row per input field of the target, with its pointer (the default: the body's key of the same name)."""
    if target is None:
        return []
    pointers = default_mapping(target.input_model) if mapping is None else mapping
    errors = errors or {}
    return [
        MappingRow(f, pointers.get(f.name, ""), errors.get(MAP_PREFIX + f.name, ""))
        for f in input_fields(target.input_model)
    ]


async def parse_trigger_form(request: Request, conn: AsyncConnection) -> ParsedTrigger:
    form = await parse_form(request, TriggerForm)
    target = await resolve(
        conn, request.user.id, form.values.get("target", "")[:120], request.user.space.id
    )
    errors = dict(form.errors)
    if target is None:
        errors["target"] = "Choose what the trigger starts."
    if errors:
        return ParsedTrigger(None, target, None, form.values, errors)
    if form.data.mapped_for != form.data.target:
        return ParsedTrigger(None, target, None, form.values, {}, retargeted=True)
    if form.data.pass_through:
        return ParsedTrigger(form.data, target, None, form.values)
    names = [f.name for f in input_fields(target.input_model)]
    mapping = {name: form.values.get(MAP_PREFIX + name, "").strip() for name in names}
    mapping = {name: pointer for name, pointer in mapping.items() if pointer}
    problems = check_mapping(mapping, names)
    if problems:
        return ParsedTrigger(
            None, target, None, form.values, {MAP_PREFIX + k: v for k, v in problems.items()}
        )
    return ParsedTrigger(form.data, target, mapping, form.values)


def submitted_mapping(values: dict[str, str]) -> dict[str, str]:
    """The pointers as typed, to show the form again with nothing lost."""
    return {k.removeprefix(MAP_PREFIX): v for k, v in values.items() if k.startswith(MAP_PREFIX)}
