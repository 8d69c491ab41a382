"""Signed JSON deliveries from other systems (the webhooks, code review's "fixes pushed" endpoint):
the signature header, its check, and the body as a storable JSON object."""

from __future__ import annotations

import hashlib
import hmac

from app.web.json_body import parse_json
from app.web.json_errors import ApiError
from app.web.json_values import storable_json

SIGNATURE_HEADER = "X-Baton-Signature"


def signature(secret: str, body: bytes) -> str:
    """The header value a sender computes: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(
        sent.strip().lower().encode(), signature(secret, body).encode()
    )


def json_object(body: bytes) -> dict:
    """The delivered JSON object (read strictly: app/web/json_body.py), whatever the
    Content-Type (senders differ: AWS SNS, for one, posts JSON as text/plain)."""
    value = parse_json(body)
    if not isinstance(value, dict):
        raise ApiError("invalid_json", "The body must be a JSON object.")
    try:
        return storable_json(value)
    except ValueError as exc:
        raise ApiError("invalid_json", f"The body cannot be stored: {exc}.") from None
