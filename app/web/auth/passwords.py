"""Password hashing with argon2 (pwdlib). Hashing takes ~0.1 s of CPU on purpose, so it runs in a
thread: the event loop keeps serving everyone else meanwhile."""

from __future__ import annotations

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
# Made on first need, not at import: a hash costs ~0.5 s of CPU, which every `baton` command that
# imports this module would otherwise pay.
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHash) -> None:
    """Swap the hasher (tests use cheaper argon2 parameters); existing hashes keep verifying."""
    global _hasher, _dummy_hash
    _hasher = hasher
    _dummy_hash = None


def _verify_dummy(password: str) -> None:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("baton-dummy-password")
    _hasher.verify(password, _dummy_hash)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """False for a missing hash too, after the same amount of work."""
    if not password_hash:
        await asyncio.to_thread(_verify_dummy, password)
        return False
    return await asyncio.to_thread(_hasher.verify, password, password_hash)
