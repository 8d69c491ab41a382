"""Admin analytics forms."""

from __future__ import annotations

import re
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,119}$")


class Price(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str
    input_per_1k: Decimal = Field(ge=0, le=1000, decimal_places=6)
    output_per_1k: Decimal = Field(ge=0, le=1000, decimal_places=6)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        value = value.strip()
        if not MODEL_NAME.match(value):
            raise ValueError(
                "Use the model's name as the endpoint knows it (letters, digits, . _ : / @ -)."
            )
        return value
