"""The `ask_model` block's step: one completion with the block's model, temperature and, when asked, a JSON
answer with named fields. Same client, refusals and retry policy as app/steps/model.py `generate`: a bad
key or request fails the block at once; timeouts, rate limits, server errors and an answer that is not
the requested JSON are retried by `model.MODEL_RETRY`, then the block fails with a readable error."""

from __future__ import annotations

import json
import re

from app.core import runtime
from app.engine.values import StepOutput, Usage
from app.steps import model

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


class AnswerMismatch(Exception):
    """The model's answer is not the JSON object the block asked for (retried, then shown as the error)."""


def json_instruction(fields: list[str]) -> str:
    return (
        "\n\nAnswer with one JSON object and nothing else, with exactly these fields: "
        + ", ".join(fields)
        + "."
    )


def parse_answer(text: str, fields: list[str]) -> dict:
    found = _FENCE.match(text)
    body = found.group(1) if found else text.strip()
    try:
        data = json.loads(body)
    except ValueError:
        raise AnswerMismatch(
            f"the model's answer is not JSON (expected an object with {', '.join(fields)})"
        ) from None
    if not isinstance(data, dict):
        raise AnswerMismatch(f"the model's answer is not a JSON object with {', '.join(fields)}")
    missing = [f for f in fields if f not in data]
    if missing:
        raise AnswerMismatch(
            f"the model's answer lacks the field{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )
    return {f: data[f] for f in fields}


def offline_answer(system: str, prompt: str, fields: list[str]) -> str:
    """The offline demo model's deterministic stand-in (JSON when fields are asked)."""
    text = model.offline_text(system or "You are an assistant.", prompt)
    return json.dumps({f: f"{text}" for f in fields}) if fields else text


async def ask_model(
    system: str, prompt: str, model_name: str | None, temperature: float | None, fields: list[str]
) -> StepOutput:
    llm = runtime.current().llm
    if llm.offline:
        text = offline_answer(system, prompt, fields)
        return StepOutput(
            parse_answer(text, fields) if fields else text, usage=Usage(llm.model, 0, 0, 0.0)
        )
    messages = [
        {"role": "system", "content": system or "You are a helpful assistant."},
        {"role": "user", "content": prompt + (json_instruction(fields) if fields else "")},
    ]
    text, usage = await model.complete(
        messages, model=model_name, temperature=temperature, max_tokens=model.MAX_TOKENS
    )
    return StepOutput(parse_answer(text, fields) if fields else text, usage=usage)
