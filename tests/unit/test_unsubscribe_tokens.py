"""Unsubscribe tokens: genuine ones read back as (user, kind); anything changed, truncated or signed
with another app secret is refused."""

import dataclasses

from app.core.config import load_settings
from app.core.unsubscribe import read_token, unsubscribe_token, unsubscribe_url

SETTINGS = load_settings(
    {"BATON_SECRET_KEY": "unit-test-secret-key-0123", "BATON_BASE_URL": "https://baton.example"}
)


def test_a_genuine_token_names_its_user_and_kind():
    token = unsubscribe_token(SETTINGS, 42, "review_needed")
    assert read_token(SETTINGS, token) == (42, "review_needed")
    assert read_token(SETTINGS, unsubscribe_token(SETTINGS, 42, "digest")) == (42, "digest")
    assert (
        unsubscribe_url(SETTINGS, 42, "run_failed")
        == f"https://baton.example/unsubscribe/{unsubscribe_token(SETTINGS, 42, 'run_failed')}"
    )


def test_changed_or_foreign_tokens_are_refused():
    token = unsubscribe_token(SETTINGS, 42, "review_needed")
    user, kind, signature = token.split(".")
    other_secret = dataclasses.replace(SETTINGS, secret_key="another-secret-key-98765")
    for bad in (
        f"43.{kind}.{signature}",
        f"{user}.run_failed.{signature}",
        f"{user}.{kind}.{signature[:-1]}",
        f"{user}.{kind}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{user}.{kind}",
        "",
        f"{user}.login.{signature}",
        f"-1.{kind}.{signature}",
        f"{user}.{kind}.{signature}.x",
        "9" * 40 + f".{kind}.x",
    ):
        assert read_token(SETTINGS, bad) is None, bad
    assert read_token(other_secret, token) is None


def test_only_known_kinds_get_a_token():
    try:
        unsubscribe_token(SETTINGS, 1, "everything")
    except ValueError:
        return
    raise AssertionError("a token for an unknown kind was made")
