"""The template format as the editor needs it (the format itself is app/templates/format.py): its
JSON Schema, its validation as (path, message) pairs, a new block of a kind, and the variables in
scope at each block (the variable picker)."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import ValidationError

from app.templates import format as fmt
from app.web.builder.doc_form import Schema

KIND_TITLES = {
    "ask_model": "Ask the model",
    "review": "Review",
    "ask_person": "Ask a person",
    "wait": "Wait",
    "for_each": "For each",
    "if": "If",
    "document": "Document",
    "send": "Send",
}
# Shown nowhere in the editor: the format's version is the format's business.
HIDDEN = ("format_version",)
NESTED = ("blocks", "then", "else")
# What a new block of a kind starts with besides its id (the rest is the person's to fill; the live
# check says what is missing).
STARTERS: dict[str, dict[str, Any]] = {
    "wait": {"duration": "10s"},
    "send": {"channel": "email", "to": "owner"},
    "if": {"condition": {"op": "equals"}},
}

# Fields a send needs for one channel only: the editor marks them required for it (the format's
# check, app/templates/format.py, says so beside the field when one is missing).
REQUIRED_WHEN = {"url": {"channel": "webhook"}, "connector": {"channel": "publish"}}

# Field names as the editor labels them (the schema's own titles are the field names capitalised).
LABELS = {
    "id": "Name (later blocks use its output by this name)",
    "json_fields": "Answer as JSON with these fields",
    "system": "System prompt",
    "on_changes": "On “request changes”, go back to block",
    "max_rounds": "At most this many change requests",
    "on_reject": "On reject",
    "remind_before": "Remind before it expires",
    "doc_title": "Document title",
    "as": "Call each item",
    "collect": "Collect the output of block",
    "var": "Variable",
    "op": "Test",
    "negate": "Negate (not)",
    "help": "Help text",
    "kind": "Kind",
    "to": "To",
    "url": "URL",
    "until": "Or wait until (a variable holding a date-time)",
    "then": "Then",
    "else": "Else",
    "blocks": "Blocks",
    "duration": "Duration (e.g. 10s, 5m, 2h)",
}


@functools.cache
def schema() -> Schema:
    full = fmt.document_schema()
    return Schema(
        {**full, "properties": {k: v for k, v in full["properties"].items() if k not in HIDDEN}},
        LABELS,
        REQUIRED_WHEN,
    )


def validate(doc: dict) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in fmt.validate_document(doc)]


def new_block(kind: str, name: str) -> dict:
    return {"kind": kind, "id": name, **STARTERS.get(kind, {})}


def scope_at(doc: dict, at: str) -> list[str]:
    """The variables the texts of the block at path `at` may use (the variable picker). A valid
    document asks the format (which knows a review's jump-back); one being edited gets the same rule
    without it: the inputs, run.date and run.title, the ids of the blocks before it (and of those
    before the loop or branch it is in), a loop's item inside the loop."""
    found: list[str] | None = None
    base = [
        f"inputs.{i['name']}"
        for i in doc.get("inputs") or []
        if isinstance(i, dict) and isinstance(i.get("name"), str)
    ]
    base += ["run.date", "run.title"]

    def walk(blocks: Any, path: str, visible: list[str]) -> list[str]:
        nonlocal found
        added: list[str] = []
        for i, block in enumerate(blocks if isinstance(blocks, list) else []):
            if found is not None:
                break
            if not isinstance(block, dict):
                continue
            here, inner = f"{path}.{i}", visible + added
            if here == at:
                found = list(dict.fromkeys(inner))
                break
            if block.get("kind") == "for_each":
                walk(
                    block.get("blocks"), f"{here}.blocks", inner + [str(block.get("as") or "item")]
                )
            elif block.get("kind") == "if":
                added += walk(block.get("then"), f"{here}.then", inner)
                added += walk(block.get("else"), f"{here}.else", inner)
            if isinstance(block.get("id"), str) and block["id"]:
                added.append(block["id"])
        return added

    walk(doc.get("blocks"), "blocks", base)
    block = _block_at(doc, at)
    if block is not None and isinstance(block.get("id"), str):
        try:
            template = fmt.parse({**doc, "format_version": fmt.FORMAT_VERSION})
        except (ValidationError, ValueError, TypeError):
            template = None
        if template is not None:
            return [v.name for v in fmt.variables_in_scope(template, block["id"])]
    return found or []


def _block_at(doc: dict, at: str) -> dict | None:
    node: Any = doc
    for part in at.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node if isinstance(node, dict) else None
