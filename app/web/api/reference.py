"""docs/dev/api-reference.md, generated from the API's OpenAPI document:

    uv run python -m app.web.api.reference > docs/dev/api-reference.md

The same document `/api/openapi.json` serves, read from the routes without a database; a test
(tests/unit/test_docs_references.py) fails while the committed page differs from it.
"""

from __future__ import annotations

import sys


def openapi_document() -> dict:
    from app.core.config import load_settings
    from app.web.app import create_app

    # Building the app opens nothing: the pool is opened by its lifespan, which never starts here.
    return create_app(
        load_settings({}), "postgresql://unused/unused", run_worker=False
    ).openapi_schema.to_schema()


def _schema_name(content: dict | None) -> str:
    schema = ((content or {}).get("application/json") or {}).get("schema") or {}
    ref = schema.get("$ref", "")
    return f"`{ref.rsplit('/', 1)[-1]}`" if ref else ""


def _describe(schema: dict) -> str:
    """A parameter's schema in words: its type and bounds."""
    types = [
        t
        for t in (
            [schema["type"]] if isinstance(schema.get("type"), str) else schema.get("type") or []
        )
    ]
    types += [o["type"] for o in schema.get("oneOf", []) if "type" in o]
    words = [" or ".join(t for t in types if t != "null") or "any"]
    if schema.get("enum"):
        words.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"] if v is not None))
    if "maxLength" in schema:
        words.append(f"at most {schema['maxLength']} characters")
    if "minimum" in schema and "maximum" in schema:
        words.append(f"{schema['minimum']:g} to {schema['maximum']:g}")
    if "default" in schema:
        words.append(f"default {schema['default']}")
    return ", ".join(words)


def _summary(description: str) -> str:
    """The description's first sentence."""
    first = _one_line(description).replace("...", "…").split(". ")[0]
    return first[:-1] if first.endswith(".") else first


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(doc: dict) -> str:
    out = [
        "# API reference",
        "",
        "*Generated from the OpenAPI document of the routes in app/web/api/ by",
        "`uv run python -m app.web.api.reference > docs/dev/api-reference.md`: edit those, not this page.*",
        "",
        f"{_one_line(doc['info']['description'])}",
        "",
        "The overview, with examples and the webhooks, is [docs/api.md](../api.md); a running Baton serves",
        "this document at `/api/openapi.json` and browsable at `/api/docs`.",
        "",
        "| Method | Path | Operation | Summary |",
        "|---|---|---|---|",
    ]
    operations = [
        (path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
    ]
    for path, method, op in operations:
        out.append(
            f"| {method.upper()} | `{path}` | [{op['summary']}](#{op['summary'].lower()}) | "
            f"{_summary(op.get('description', ''))} |"
        )
    for path, method, op in operations:
        out += [
            "",
            f"## {op['summary']}",
            "",
            f"`{method.upper()} {path}` — {_one_line(op.get('description', ''))}",
        ]
        params = op.get("parameters") or []
        if params:
            out += ["", "| Parameter | In | Required | Meaning |", "|---|---|---|---|"]
            out += [
                f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} | "
                f"{_one_line(p.get('description') or _describe(p.get('schema') or {}))} |"
                for p in params
            ]
        body = _schema_name((op.get("requestBody") or {}).get("content"))
        if body:
            out += ["", f"Body: {body} (JSON)."]
        out += ["", "| Status | Meaning | Body |", "|---|---|---|"]
        out += [
            f"| {status} | {_one_line(response.get('description', ''))} | {_schema_name(response.get('content'))} |"
            for status, response in sorted(op["responses"].items())
        ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(openapi_document()))
