"""Rendering a template's texts and reading its variables at run time: the sandboxed Jinja environment of
app/templates/format.py (never `str.format` on user text), dotted variable paths and conditions as data."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError, TemplateError

from app.templates.format import ENV, Condition


class TemplateRunError(Exception):
    """A block cannot run with these values (a readable message for the run's error)."""


@lru_cache(maxsize=2048)
def _compiled(text: str) -> JinjaTemplate:
    return ENV.from_string(text)


def render(text: str, context: dict[str, Any], where: str = "") -> str:
    if not text:
        return ""
    if "{" not in text:
        return text
    try:
        return _compiled(text).render(context)
    except SecurityError as exc:
        raise TemplateRunError(f"{where}: not allowed in a template ({exc})") from None
    except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateRunError(f"{where}: {exc}") from None


def lookup(path: str, context: dict[str, Any]) -> Any:
    """The value at a dotted path (`inputs.topics`, `research.sources.0`); None where it is missing."""
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def holds(condition: Condition, context: dict[str, Any]) -> bool:
    """Whether the condition is true (comparisons never raise: a mismatch is simply false)."""
    value = lookup(condition.var, context)
    want = condition.value
    if isinstance(want, str) and "{" in want:
        want = render(want, context, condition.var)
    match condition.op:
        case "is_empty":
            result = value is None or value == "" or value == [] or value == {}
        case "equals":
            a, b = _number(value), _number(want)
            result = (
                (a == b)
                if a is not None
                and b is not None
                and not isinstance(value, str | None)
                or (isinstance(value, int | float) and b is not None)
                else str(value if value is not None else "") == str(want)
            )
        case "contains":
            if isinstance(value, list):
                result = any(str(v) == str(want) for v in value)
            else:
                result = str(want).lower() in str(value or "").lower()
        case "greater_than":
            a, b = _number(value), _number(want)
            result = a is not None and b is not None and a > b
        case "decision_was":
            decision = value.get("decision") if isinstance(value, dict) else value
            result = str(decision or "") == str(want)
        case _:
            result = False
    return not result if condition.negate else result


def parse_when(value: Any, where: str) -> datetime:
    """An ISO date-time from a variable (a naive one is taken as UTC)."""
    try:
        when = (
            value
            if isinstance(value, datetime)
            else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        )
    except (TypeError, ValueError):
        raise TemplateRunError(
            f"{where}: “{value}” is not a date-time (like 2026-05-01T09:00:00Z)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
