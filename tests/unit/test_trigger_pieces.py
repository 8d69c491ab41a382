"""The pure pieces of triggers: JSON pointers (RFC 6901) and the body-to-input mapping, the secrets
of each auth mode, the per-trigger rate limit's bucket, and the examples a trigger's page shows."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
from pydantic import BaseModel, Field

from app.core import ratelimit
from app.core.secrets_box import SecretBox
from app.triggers.mapping import BadPointer, check_mapping, map_body, parse_pointer
from app.triggers.secrets import bearer_valid, new_secret, signing_secret
from app.web.signed_json import signature, signature_valid
from app.web.triggers.examples import SECRET_PLACEHOLDER, example_body, examples

BODY = {
    "post": {"title": "Hello", "tags": ["a", "b"], "a/b": 1, "m~n": 2},
    "count": 3,
    "": "empty key",
}


@pytest.mark.parametrize(
    ("pointer", "tokens"),
    [
        ("", []),
        ("/", [""]),
        ("/post/title", ["post", "title"]),
        ("/post/a~1b", ["post", "a/b"]),
        ("/post/m~0n", ["post", "m~n"]),
        ("/~01", ["~1"]),
    ],
)
def test_pointers_parse_as_rfc_6901_says(pointer, tokens):
    assert parse_pointer(pointer) == tokens


@pytest.mark.parametrize("pointer", ["post/title", "/bad~2escape", "/trailing~", "/" + "x" * 600])
def test_malformed_pointers_are_refused_in_words(pointer):
    with pytest.raises(BadPointer):
        parse_pointer(pointer)


def test_the_mapping_takes_each_field_from_its_pointer_and_leaves_out_what_is_not_there():
    mapping = {
        "topic": "/post/title",
        "times": "/count",
        "tag": "/post/tags/1",
        "slash": "/post/a~1b",
        "tilde": "/post/m~0n",
        "empty": "/",
        "missing": "/post/nope",
        "past_end": "/post/tags/2",
        "leading_zero": "/post/tags/01",
        "through_a_string": "/post/title/x",
        "minus": "/post/tags/-",
    }
    found, sources = map_body(BODY, mapping)
    assert found == {
        "topic": "Hello",
        "times": 3,
        "tag": "b",
        "slash": 1,
        "tilde": 2,
        "empty": "empty key",
    }
    assert sources == mapping


def test_no_mapping_passes_the_body_through():
    assert map_body(BODY, None) == (BODY, {})


def test_a_mapping_is_checked_against_the_targets_fields():
    assert check_mapping({"topic": "/t", "times": "n", "colour": "/c"}, ["topic", "times"]) == {
        "times": "A JSON pointer starts with “/”, e.g. /pull_request/title.",
        "colour": "The target has no input field of this name.",
    }


def test_hmac_secrets_are_stored_encrypted_and_bearer_tokens_hashed():
    box = SecretBox("unit-test-secret-key-0123456789")
    signing = new_secret("hmac", box)
    assert signing.plain.startswith("whsec_") and signing.plain not in signing.stored
    assert signing_secret(signing.stored, box) == signing.plain
    assert (
        signing_secret(signing.stored, SecretBox("another-app-key-0123456789")) is None
    )  # the app key changed
    body = b'{"a": 1}'
    assert signature_valid(signing.plain, body, signature(signing.plain, body))

    token = new_secret("bearer", box)
    assert (
        token.plain.startswith("btt_")
        and token.stored == hashlib.sha256(token.plain.encode()).hexdigest()
    )
    assert token.hint == token.plain[:10]
    assert bearer_valid(token.stored, f"Bearer {token.plain}") and bearer_valid(
        token.stored, f"bearer  {token.plain} "
    )
    for wrong in (
        None,
        "",
        token.plain,
        f"Basic {token.plain}",
        "Bearer btt_other",
        "Bearer " + "x" * 300,
    ):
        assert not bearer_valid(token.stored, wrong)


def test_each_trigger_has_its_own_rate_limit_bucket():
    assert ratelimit.trigger_deliveries("3f0c", 12) == ratelimit.RateLimit("trigger:3f0c", 12, 60)


class ExampleInput(BaseModel):
    topic: str = Field(min_length=1, max_length=12)
    times: int = Field(default=1, ge=1)
    level: int = Field(ge=3)
    strict: bool


def test_the_example_body_holds_the_required_fields_at_their_pointers_and_is_valid():
    body = json.loads(
        example_body(
            ExampleInput, {"topic": "/post/title", "level": "/level", "strict": "/flags/strict"}
        )
    )
    assert body == {"post": {"title": "Example topi"}, "level": 3, "flags": {"strict": False}}
    passed = json.loads(example_body(ExampleInput, None))
    ExampleInput.model_validate(passed)


def test_the_curl_example_signs_exactly_as_the_server_checks():
    secret, body = "whsec_test", '{"topic": "it\'s here"}'
    curl = examples("http://baton.test/hooks/t/1", "hmac", body, secret)["curl"]
    # Run the example's own signing lines (not curl): the signature must be the server's.
    signing = curl.split("\ncurl ")[0] + '\nprintf "sha256=%s" "$SIG"'
    computed = subprocess.run(
        ["bash", "-c", signing], capture_output=True, text=True, check=True
    ).stdout
    assert signature_valid(secret, body.encode(), computed)
    python = examples("http://baton.test/hooks/t/1", "hmac", body, None)["python"]
    assert repr(SECRET_PLACEHOLDER) in python  # the secret is shown once only, then a placeholder
    compile(python, "<example>", "exec")
    assert (
        "Authorization: Bearer $TOKEN"
        in examples("http://baton.test/hooks/t/1", "bearer", body, "btt_x")["curl"]
    )
