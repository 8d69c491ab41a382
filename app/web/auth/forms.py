"""Form parsing at the edge: every form is a pydantic model; errors come back per field, worded
for people, together with the values sent so the page can be re-rendered with nothing lost.
Shared by every area's forms (`parse_form(request, Model)`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from app.core import local_time

if TYPE_CHECKING:
    from litestar import Request

M = TypeVar("M", bound=BaseModel)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_EMAIL = 254
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


@dataclass
class FormResult(Generic[M]):
    data: M | None
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def _message(error: dict) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "This field is required."
    if kind == "string_too_long":
        return f"Too long: at most {error['ctx']['max_length']:,} characters."
    if kind in ("int_parsing", "int_type"):
        return "Enter a whole number."
    if kind == "greater_than_equal":
        return f"Must be at least {error['ctx']['ge']}."
    message = str(error.get("msg", "Invalid value."))
    return message.removeprefix("Value error, ")


async def parse_form(request: Request, model: type[M]) -> FormResult[M]:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and not k.startswith("_")}
    try:
        return FormResult(model.model_validate(values), values)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "form"
            errors.setdefault(name, _message(error))
        return FormResult(None, values, errors)


class _Credentials(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: str
    password: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Enter your email address.")
        if len(value) > MAX_EMAIL or not EMAIL.match(value):
            raise ValueError("Enter a valid email address, like name@example.com.")
        return value.lower()  # users.email is stored lower-cased


class SignupForm(_Credentials):
    # Filled by static/js/baton.js from the browser; a zone the server does not know is left unset
    # (UTC) rather than refused: the person never saw the field and can choose one in settings.
    time_zone: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        try:
            return local_time.parse_zone(value)
        except local_time.BadTimeZone:
            return None

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        if len(value) < MIN_PASSWORD:
            raise ValueError(f"Use at least {MIN_PASSWORD} characters.")
        if len(value) > MAX_PASSWORD:
            raise ValueError(f"Use at most {MAX_PASSWORD} characters.")
        return value


class LoginForm(_Credentials):
    next: str = "/"

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        if not value:
            raise ValueError("Enter your password.")
        if len(value) > MAX_PASSWORD:
            raise ValueError("Wrong email or password.")
        return value
