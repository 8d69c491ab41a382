"""JSON a person or a machine sent, checked before it is stored (the API's bodies, webhook deliveries)."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32


def storable_json(value: Any, depth: int = 0) -> Any:
    """Postgres stores neither NUL characters nor unpaired surrogates, and very deep nesting is
    no workflow's input: refuse them here, as a 422, instead of failing at the database."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text may not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_json(key, depth + 1)
            storable_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            storable_json(item, depth + 1)
    return value
