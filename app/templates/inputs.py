"""A template's inputs as a pydantic model, so a template run's input is checked by the engine's one start
command exactly like a built-in workflow's (same refusals, same per-field messages)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model, field_validator

from app.templates.format import InputField

MAX_LIST_ITEMS = 100
MAX_FILES = 50


class FileRef(BaseModel):
    """An uploaded file (app/steps/run_files.py `store_uploads`), attached to the run when it starts."""

    model_config = ConfigDict(extra="forbid")

    artifact_id: UUID
    name: str = Field(min_length=1, max_length=200)
    size: int = Field(ge=0)


class _Values(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


def _annotation(field: InputField) -> Any:
    match field.kind:
        case "short_text":
            return str, {"max_length": 500}
        case "long_text":
            return str, {"max_length": 20_000}
        case "number":
            return float, {}
        case "yes_no":
            return bool, {}
        case "choice":
            return Literal[tuple(field.choices)] if field.choices else str, {}
        case "datetime":
            return AwareDatetime, {}
        case "text_list":
            return list[str], {"max_length": MAX_LIST_ITEMS}
        case "file":
            return FileRef, {}
        case "files":
            return list[FileRef], {"max_length": MAX_FILES}
    raise ValueError(field.kind)


def input_model(fields: list[InputField], name: str = "TemplateInput") -> type[BaseModel]:
    """The model of a start form (or an ask_person form): required fields must be given; optional ones
    default to the field's default, else empty. Built once per distinct list of fields: building a
    pydantic model costs about a millisecond, which every start and every answer would pay."""
    key = json.dumps([f.model_dump(mode="json") for f in fields], sort_keys=True)
    return _built_model(key, name)


@lru_cache(maxsize=512)
def _built_model(fields_json: str, name: str) -> type[BaseModel]:
    fields = [InputField.model_validate(raw) for raw in json.loads(fields_json)]
    spec: dict[str, Any] = {}
    for field in fields:
        annotation, constraints = _annotation(field)
        if field.required and field.default is None:
            spec[field.name] = (
                annotation,
                Field(title=field.label, description=field.help or None, **constraints),
            )
        else:
            spec[field.name] = (
                annotation | None,
                Field(
                    field.default, title=field.label, description=field.help or None, **constraints
                ),
            )
    return create_model(name, __base__=_Values, **spec)


def json_values(validated: BaseModel) -> dict:
    data = validated.model_dump(mode="json")
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


def file_ids(fields: list[InputField], values: dict) -> list[str]:
    """The uploaded files an input names (to attach to the run)."""
    ids = []
    for field in fields:
        value = values.get(field.name)
        if field.kind == "file" and value:
            ids.append(str(value["artifact_id"]))
        elif field.kind == "files" and value:
            ids += [str(v["artifact_id"]) for v in value]
    return ids
