"""What authenticates a delivery to a trigger, in one of two modes:

- `hmac`: the sender signs the raw body with the trigger's secret, exactly as for the resume
  webhooks: `X-Baton-Signature: sha256=<hex HMAC-SHA256>`, checked by app/web/signed_json.py.
  Checking a signature needs the secret itself, so it is stored encrypted (app/core/secrets_box.py).
- `bearer`: the sender sends `Authorization: Bearer <token>`. Only the token's SHA-256 is stored
  (256 random bits need no slow hash), compared in constant time.

Either secret is shown once, when it is made (creation, rotation); only its first characters are
kept in clear (`hint`) so people can tell which one a sender has.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from app.core.secrets_box import SecretBox, SecretUnreadable

AuthMode = Literal["hmac", "bearer"]
AUTH_MODES: tuple[AuthMode, ...] = ("hmac", "bearer")
PREFIXES = {"hmac": "whsec_", "bearer": "btt_"}
HINT_CHARS = 10


@dataclass(frozen=True)
class NewSecret:
    plain: str  # shown to the person once, never stored
    stored: str  # what the `secret` column keeps
    hint: str


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_secret(mode: AuthMode, box: SecretBox) -> NewSecret:
    plain = PREFIXES[mode] + secrets.token_urlsafe(32)
    stored = box.encrypt(plain) if mode == "hmac" else _sha256(plain)
    return NewSecret(plain, stored, plain[:HINT_CHARS])


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def signing_secret(stored: str, box: SecretBox) -> str | None:
    """An hmac trigger's secret, or None when it cannot be read (BATON_SECRET_KEY changed: nobody
    can sign for the trigger until its secret is rotated)."""
    try:
        return box.decrypt(stored)
    except SecretUnreadable:
        return None


def bearer_valid(stored: str, header: str | None) -> bool:
    """Whether `Authorization: Bearer <token>` carries a bearer trigger's token."""
    token = bearer_token(header)
    if not token or len(token) > 200:
        return False
    return hmac.compare_digest(_sha256(token).encode(), stored.encode())
