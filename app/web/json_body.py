"""The one JSON reader of request bodies, for the API and the webhooks: strict, bounded, and every
refusal an `ApiError` (400 `invalid_json`, 415 `unsupported_media_type`), never a 500.

A body is refused as malformed when it is not UTF-8, not JSON (RFC 8259: no NaN or Infinity,
nothing after the value), has the same key twice in one object (which one would count?), a
number out of range (a float beyond ±1.8e308, an integer over 4,300 digits), or nests arrays and
objects more than MAX_DEPTH deep. Any valid JSON that passes these is handed on as it is, whatever
its keys (an empty key included); the route's schema then judges it (422 `invalid_input`).
Size is capped before this by each router's `request_max_body_size` (413 `body_too_large`).

`JsonRequest` is the API's request class: Litestar reads a handler's `data` through
`Request.json()`, so the body models of the routes go through this reader too.
"""

from __future__ import annotations

import json
import math
from typing import Any

from litestar import Request

from app.web.json_errors import ApiError

MAX_DEPTH = 32  # arrays and objects inside one another; no workflow input needs more


class _Malformed(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Malformed(f"the number {text[:40]} is out of range")
    return value


def _no_constants(name: str) -> Any:
    raise _Malformed(f"{name} is not a JSON value")


def _object(pairs: list[tuple[str, Any]]) -> dict:
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise _Malformed(f"the key {key[:60]!r} appears twice in one object")
        found[key] = value
    return found


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(body: bytes) -> Any:
    """The value of a JSON body, or `ApiError("invalid_json")` saying what is wrong with it."""
    if not body.strip():
        raise ApiError("invalid_json", "The request body is empty; send a JSON object.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            "invalid_json", f"The request body is not valid UTF-8 (byte {exc.start})."
        ) from None
    try:
        value = json.loads(
            text, object_pairs_hook=_object, parse_float=_finite, parse_constant=_no_constants
        )
    except RecursionError:
        raise ApiError(
            "invalid_json", f"The request body nests more than {MAX_DEPTH} levels deep."
        ) from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            "invalid_json",
            f"The request body is not valid JSON: {exc.msg} "
            f"(line {exc.lineno}, column {exc.colno}).",
        ) from None
    except ValueError as exc:  # ours, or an integer over Python's 4,300-digit limit
        reason = str(exc) if isinstance(exc, _Malformed) else "a number has too many digits"
        raise ApiError("invalid_json", f"The request body is not valid JSON: {reason}.") from None
    if _depth(value) > MAX_DEPTH:
        raise ApiError("invalid_json", f"The request body nests more than {MAX_DEPTH} levels deep.")
    return value


JSON_TYPES = ("application/json",)


def is_json_media_type(content_type: str | None) -> bool:
    """No Content-Type (curl without -H), application/json, or any `+json` type."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or media.endswith("+json")


class JsonRequest(Request):
    """A request whose JSON body is read by `parse_json`, after its Content-Type is checked."""

    async def body(self) -> bytes:
        # Litestar hands a handler "no data" for an empty body (a 422 about a field named `data`);
        # to the API an empty body is malformed JSON like any other, so let json() see it.
        return await super().body() or b" "

    async def json(self) -> Any:
        if not is_json_media_type(self.headers.get("content-type")):
            raise ApiError(
                "unsupported_media_type", "Send the body as JSON (Content-Type: application/json)."
            )
        return parse_json(await self.body())
