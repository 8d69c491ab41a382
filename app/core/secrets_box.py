"""Secrets at rest (connector tokens, signing keys): encrypted with a key derived from the app
secret, so a database dump alone reveals none of them.

    box = SecretBox.from_settings(settings)     # or secret_box() in a worker
    stored = box.encrypt("token")               # str, safe to keep in a text column
    box.decrypt(stored)                         # "token"; SecretUnreadable if the key changed

Fernet (AES-128-CBC + HMAC-SHA256, authenticated) keyed by HKDF-SHA256 from BATON_SECRET_KEY with a
purpose label: the same app secret never keys two different things. `derived_secret(purpose)`
gives stable per-object secrets (e.g. a run's webhook signing key) without storing them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.core.config import Settings, with_secret_key

PURPOSE = b"baton/secrets-box/v1"


class SecretUnreadable(Exception):
    """The stored value was encrypted with another BATON_SECRET_KEY (or was tampered with)."""


def _derive(secret_key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret_key.encode()
    )


class SecretBox:
    def __init__(self, secret_key: str):
        if len(secret_key) < 16:
            raise ValueError("the app secret key is missing or too short")
        self._secret_key = secret_key
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret_key, PURPOSE)))

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(with_secret_key(settings).secret_key)

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except (InvalidToken, ValueError):
            raise SecretUnreadable(
                "this secret cannot be read with the current BATON_SECRET_KEY; enter it again"
            ) from None

    def derived_secret(self, purpose: str) -> str:
        """A stable secret for `purpose` (hex), recomputable by any process with the same app key."""
        key = _derive(self._secret_key, b"baton/derived/v1")
        return hmac.new(key, purpose.encode(), hashlib.sha256).hexdigest()


def secret_box() -> SecretBox:
    """The box of this process's settings (worker side: app.core.runtime)."""
    from app.core import runtime

    return SecretBox.from_settings(runtime.current().settings)
