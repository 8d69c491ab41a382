"""The chat's forms, validated at the edge."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

MAX_MESSAGE = 32_000
MAX_TITLE = 80


class MessageForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Type a message first.")
        if len(value) > MAX_MESSAGE:
            raise ValueError(
                f"That message is too long: at most {MAX_MESSAGE:,} characters "
                f"(it has {len(value):,})."
            )
        return value


class TitleForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("Give the chat a title.")
        if len(value) > MAX_TITLE:
            raise ValueError(f"Keep the title under {MAX_TITLE} characters.")
        return value


class RegenerateForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message_id: int
