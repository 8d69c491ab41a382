"""What a trigger's page shows a developer: its URL, a body its mapping accepts, and a curl and a
Python example that sign (or authorise) and send it. Plain text for the templates to show."""

from __future__ import annotations

import json
import shlex
from typing import Any

from pydantic import BaseModel

from app.triggers.mapping import BadPointer, parse_pointer
from app.triggers.targets import default_mapping

SECRET_PLACEHOLDER = "<your trigger secret>"


def trigger_url(base_url: str, trigger_id: Any) -> str:
    return f"{base_url.rstrip('/')}/hooks/t/{trigger_id}"


def _sample(name: str, prop: dict) -> Any:
    if "default" in prop and prop["default"] is not None:
        return prop["default"]
    if "enum" in prop:
        return prop["enum"][0]
    kind = prop.get("type") or next(
        (b.get("type") for b in prop.get("anyOf", []) if b.get("type") != "null"), "string"
    )
    if kind == "integer":
        return max(1, prop.get("minimum", 1))
    if kind == "number":
        return prop.get("minimum", 1.0)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return f"Example {name.replace('_', ' ')}"[: prop.get("maxLength", 200)]


def _place(body: dict, pointer: str, value: Any) -> None:
    try:
        tokens = parse_pointer(pointer)
    except BadPointer:
        return
    if not tokens:
        return
    node = body
    for token in tokens[:-1]:
        child = node.get(token)
        if not isinstance(child, dict):
            child = node[token] = {}
        node = child
    node[tokens[-1]] = value


def example_body(input_model: type[BaseModel] | None, mapping: dict[str, str] | None) -> str:
    """A JSON body that starts the target: its required fields, at their pointers."""
    if input_model is None:
        return "{}"
    schema = input_model.model_json_schema()
    required = set(schema.get("required", []))
    pointers = default_mapping(input_model) if mapping is None else mapping
    body: dict = {}
    for name, prop in schema.get("properties", {}).items():
        if name in required and name in pointers:
            _place(body, pointers[name], _sample(name, prop))
    return json.dumps(body, ensure_ascii=False)


def examples(url: str, auth_mode: str, body: str, secret: str | None) -> dict[str, str]:
    """The curl and Python examples (`secret` None: a placeholder, the secret having been shown once)."""
    secret_text = secret or SECRET_PLACEHOLDER
    if auth_mode == "hmac":
        curl = "\n".join(
            [
                f"SECRET={shlex.quote(secret_text)}",
                f"BODY={shlex.quote(body)}",
                "SIG=$(printf '%s' \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" -r | cut -d' ' -f1)",
                f"curl -sS -X POST {shlex.quote(url)} \\",
                "  -H 'Content-Type: application/json' \\",
                '  -H "X-Baton-Signature: sha256=$SIG" \\',
                '  -H "Idempotency-Key: $(openssl rand -hex 16)" \\',
                '  --data-binary "$BODY"',
            ]
        )
        python = "\n".join(
            [
                "import hashlib, hmac, uuid, urllib.request",
                "",
                f"secret = {secret_text!r}",
                f"body = {body!r}.encode()",
                "signature = 'sha256=' + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()",
                f"request = urllib.request.Request({url!r}, data=body, method='POST', headers={{",
                "    'Content-Type': 'application/json', 'X-Baton-Signature': signature,",
                "    'Idempotency-Key': str(uuid.uuid4())})",
                "print(urllib.request.urlopen(request).read().decode())",
            ]
        )
    else:
        curl = "\n".join(
            [
                f"TOKEN={shlex.quote(secret_text)}",
                f"curl -sS -X POST {shlex.quote(url)} \\",
                "  -H 'Content-Type: application/json' \\",
                '  -H "Authorization: Bearer $TOKEN" \\',
                '  -H "Idempotency-Key: $(openssl rand -hex 16)" \\',
                f"  --data-binary {shlex.quote(body)}",
            ]
        )
        python = "\n".join(
            [
                "import uuid, urllib.request",
                "",
                f"token = {secret_text!r}",
                f"body = {body!r}.encode()",
                f"request = urllib.request.Request({url!r}, data=body, method='POST', headers={{",
                "    'Content-Type': 'application/json', 'Authorization': 'Bearer ' + token,",
                "    'Idempotency-Key': str(uuid.uuid4())})",
                "print(urllib.request.urlopen(request).read().decode())",
            ]
        )
    return {"curl": curl, "python": python}
