"""Signed unsubscribe links: one link turns off one kind of e-mail for one user, without logging in.

    token = unsubscribe_token(settings, user_id, "review_needed")    # "42.review_needed.<signature>"
    unsubscribe_url(settings, user_id, kind)                          # BATON_BASE_URL + /unsubscribe/<token>
    read_token(settings, token)                                       # (42, "review_needed"), or None

The signature is an HMAC-SHA256 under a key derived from BATON_SECRET_KEY for this purpose only, so
the token cannot be forged or turned into anything else (another user, another kind, a login). It
does not expire: a mail read months later must still unsubscribe (RFC 8058 asks links to keep
working), and the worst a leaked token does is turn that one kind of mail off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from app.core.config import Settings
from app.core.notify_prefs import MAIL_STREAMS
from app.core.secrets_box import SecretBox

PURPOSE = "baton/unsubscribe/v1"
SIGNATURE_CHARS = 32  # 192 bits of the HMAC, base64url


def _signature(settings: Settings, user_id: int, kind: str) -> str:
    key = SecretBox.from_settings(settings).derived_secret(PURPOSE).encode()
    digest = hmac.new(key, f"{user_id}.{kind}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]


def unsubscribe_token(settings: Settings, user_id: int, kind: str) -> str:
    if kind not in MAIL_STREAMS:
        raise ValueError(f"unknown kind of notice: {kind!r}")
    return f"{user_id}.{kind}.{_signature(settings, user_id, kind)}"


def unsubscribe_url(settings: Settings, user_id: int, kind: str) -> str:
    return f"{settings.base_url}/unsubscribe/{unsubscribe_token(settings, user_id, kind)}"


def read_token(settings: Settings, token: str) -> tuple[int, str] | None:
    """The (user id, kind) a genuine token names; None for anything forged, changed or malformed."""
    parts = token.split(".")
    if (
        len(parts) != 3
        or not parts[0].isdigit()
        or parts[1] not in MAIL_STREAMS
        or len(parts[0]) > 18
    ):
        return None
    user_id, kind, signature = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(signature.encode(), _signature(settings, user_id, kind).encode()):
        return None
    return user_id, kind
