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
    "ask_model": "Ask the model", "review": "Review", "ask_person": "Ask a person", "wait": "Wait",
    "for_each": "For each", "if": "If", "document": "Document", "send": "Send",
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


# Field names as the editor labels them (the schema's own titles are the field names capitalised).
LABELS = {
    "id": "Name (later blocks use its output by this name)", "json_fields": "Answer as JSON with these fields", "system": "System prompt",
    "on_changes": "On “request changes”, go back to block", "max_rounds": "At most this many change requests",
    "on_reject": "On reject", "remind_before": "Remind before it expires", "doc_title": "Document title",
    "as": "Call each item", "collect": "Collect the output of block", "var": "Variable", "op": "Test",
    "negate": "Negate (not)", "help": "Help text", "kind": "Kind", "to": "To", "url": "URL",
    "until": "Or wait until (a variable holding a date-time)", "duration": "Duration (e.g. 10s, 5m, 2h)",
}


@functools.cache
def schema() -> Schema:
    full = fmt.document_schema()
    return Schema({**full, "properties": {k: v for k, v in full["properties"].items() if k not in HIDDEN}}, LABELS)


def validate(doc: dict) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in fmt.validate_document(doc)]


def new_block(kind: str, name: str) -> dict:
    return {"kind": kind, "id": name, **STARTERS.get(kind, {})}


def scopes(doc: dict) -> dict[str, list[str]]:
    """For each block's path, the variables its texts may use. A valid document asks the format
    (which knows a review's jump-back); one being edited gets the same rule without it: the
    inputs, run.date and run.title, the ids of the blocks before (and of those before the loop or
    branch it is in), a loop's item inside the loop."""
    try:
        template = fmt.parse({**doc, "format_version": fmt.FORMAT_VERSION})
    except (ValidationError, ValueError, TypeError):
        template = None
    found: dict[str, list[str]] = {}
    base = [f"inputs.{i['name']}" for i in doc.get("inputs") or [] if isinstance(i, dict) and isinstance(i.get("name"), str)]
    base += ["run.date", "run.title"]

    def walk(blocks: Any, path: str, visible: list[str]) -> list[str]:
        added: list[str] = []
        for i, block in enumerate(blocks if isinstance(blocks, list) else []):
            if not isinstance(block, dict):
                continue
            here = f"{path}.{i}"
            block_id = block.get("id") if isinstance(block.get("id"), str) else None
            if template is not None and block_id:
                found[here] = [v.name for v in fmt.variables_in_scope(template, block_id)]
            else:
                found[here] = list(dict.fromkeys(visible + added))
            inner = visible + added
            if block.get("kind") == "for_each":
                walk(block.get("blocks"), f"{here}.blocks", inner + [str(block.get("as") or "item")])
            elif block.get("kind") == "if":
                added += walk(block.get("then"), f"{here}.then", inner)
                added += walk(block.get("else"), f"{here}.else", inner)
            if block_id:
                added.append(block_id)
        return added

    walk(doc.get("blocks"), "blocks", base)
    return found
