"""Admin forms."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.config import TIERS


class TierChoice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tier: str

    @field_validator("tier")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in TIERS:
            raise ValueError(f"Choose one of: {', '.join(TIERS)}.")
        return value


class TierLimits(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str = Field(max_length=40)
    monthly_runs: int | None = Field(default=None, ge=0, le=10_000_000)  # blank: unlimited
    chat_per_minute: int = Field(ge=1, le=100_000)
    api_per_minute: int = Field(ge=1, le=1_000_000)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Give the tier a name.")
        return value

    @field_validator("monthly_runs", mode="before")
    @classmethod
    def _blank_is_unlimited(cls, value):
        return None if isinstance(value, str) and not value.strip() else value
