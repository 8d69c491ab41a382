"""Model calls for workflows whose user picks the model (documents, data analysis).

    reply = await ask(system, prompt, model="gpt-4o")    # Reply(text, usage) or None offline
    StepOutput(value, usage=reply.usage)                  # journal the usage with the result

Like `app.steps.model.generate`, it uses this process's model client (`app.core.runtime`) and maps
refusals (bad key, bad request) to FatalError while timeouts, rate limits and server errors raise
for the step's retry policy. With the offline demo model it returns None: the caller writes its
own deterministic stand-in (an extract, a rule-based note), labelled as the demo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from app.core import runtime
from app.engine.values import RetryPolicy, Usage
from app.steps.model import complete

MODEL_RETRY = RetryPolicy(max_attempts=4, initial_s=2.0, factor=3.0)
MODEL_TIMEOUT_S = 180.0
OFFLINE_NOTE = "*Offline demo model: no model is connected, so this is an extract, not a summary.*"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}$")


def _blank_to_none(value):
    return None if isinstance(value, str) and not value.strip() else value


def _model_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not _NAME.match(value):
        raise ValueError("A model name is letters, digits and . _ : / @ + - (at most 100).")
    return value


# The model a user chose; None (blank) means the deployment's default (BATON_MODEL).
ModelName = Annotated[str | None, BeforeValidator(_blank_to_none), AfterValidator(_model_name)]


@dataclass(frozen=True)
class Reply:
    text: str
    usage: Usage


def offline() -> bool:
    return runtime.current().llm.offline is not None


async def ask(
    system: str, prompt: str, *, model: str | None = None, max_tokens: int = 1500
) -> Reply | None:
    llm = runtime.current().llm
    if llm.offline:
        return None
    text, usage = await complete(
        [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
        model=model,
        max_tokens=max_tokens,
    )
    return Reply(text, usage)


def usage_json(usage: Usage | None) -> dict | None:
    return (
        None
        if usage is None
        else {"model": usage.model, "tokens_in": usage.tokens_in, "tokens_out": usage.tokens_out}
    )


def total_usage(parts: list[dict | None], default_model: str) -> Usage:
    """The summed usage of map children (they cannot journal their own)."""
    found = [p for p in parts if p]
    return Usage(
        found[0]["model"] if found else default_model,
        sum(int(p.get("tokens_in") or 0) for p in found),
        sum(int(p.get("tokens_out") or 0) for p in found),
    )
