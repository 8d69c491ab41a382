"""How a delivered JSON body becomes the target's input.

A trigger's mapping names, for each input field it fills, a JSON pointer (RFC 6901) into the body:
`{"topic": "/pull_request/title", "times": "/count"}`. A field whose pointer finds nothing is left
out (its default applies, or validation reports it missing, naming the pointer). No mapping (None)
passes the body through as the input, as it is.

    input, sources = map_body(body, mapping)      # sources: field -> pointer, for error messages
"""

from __future__ import annotations

from typing import Any

MAX_POINTER = 500


class BadPointer(ValueError):
    pass


def parse_pointer(text: str) -> list[str]:
    """The pointer's reference tokens; BadPointer (worded for people) when it is not one."""
    if len(text) > MAX_POINTER:
        raise BadPointer(f"Too long: at most {MAX_POINTER} characters.")
    if text == "":
        return []
    if not text.startswith("/"):
        raise BadPointer("A JSON pointer starts with “/”, e.g. /pull_request/title.")
    tokens = []
    for raw in text[1:].split("/"):
        rest = raw.replace("~0", "").replace("~1", "")
        if "~" in rest:
            raise BadPointer("In a JSON pointer “~” is written ~0 and “/” inside a key ~1.")
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


_MISSING = object()


def resolve(document: Any, pointer: str) -> Any:
    """The value at `pointer`, or `_MISSING` (a key or index that is not there)."""
    value = document
    for token in parse_pointer(pointer):
        if isinstance(value, dict):
            if token not in value:
                return _MISSING
            value = value[token]
        elif isinstance(value, list):
            # RFC 6901: a decimal index without leading zeros ("-" names the end: nothing there).
            if (
                not token.isdigit()
                or (token != "0" and token.startswith("0"))
                or int(token) >= len(value)
            ):
                return _MISSING
            value = value[int(token)]
        else:
            return _MISSING
    return value


def map_body(body: dict, mapping: dict[str, str] | None) -> tuple[dict, dict[str, str]]:
    """The target's input from `body`, and the pointer each field was looked up at."""
    if mapping is None:
        return dict(body), {}
    found: dict[str, Any] = {}
    for name, pointer in mapping.items():
        value = resolve(body, pointer)
        if value is not _MISSING:
            found[name] = value
    return found, dict(mapping)


def check_mapping(mapping: dict[str, str], fields: list[str]) -> dict[str, str]:
    """Problems of a mapping, by input field: unknown fields and malformed pointers."""
    problems: dict[str, str] = {}
    for name, pointer in mapping.items():
        if name not in fields:
            problems[name] = "The target has no input field of this name."
            continue
        try:
            parse_pointer(pointer)
        except BadPointer as exc:
            problems[name] = str(exc)
    return problems
