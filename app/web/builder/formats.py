"""The template format as the editor needs it (the format itself is app/templates/format.py):
its JSON Schema, its validation as (path, message) pairs, a new block of a kind, the variables in
scope before each block, and the run form of a document's inputs."""

from __future__ import annotations

import functools
from typing import Any

KIND_TITLES = {
    "ask_model": "Ask the model", "review": "Review", "ask_person": "Ask a person", "wait": "Wait",
    "for_each": "For each", "if": "If", "document": "Document", "send": "Send",
}
# Fields that name what a block leaves for the blocks after it, and what a loop calls its item.
OUTPUT_FIELDS = ("output", "save_as", "name")
ITEM_FIELDS = ("item", "as", "item_name", "variable")
NESTED_LISTS = ("blocks", "then", "else", "otherwise", "else_blocks", "then_blocks", "do")


@functools.cache
def schema() -> dict:
    from app.templates import format as fmt
    return fmt.TemplateDocument.model_json_schema()


def validate(doc: dict) -> list[tuple[str, str]]:
    from app.templates import format as fmt
    return [(p.path, p.message) for p in fmt.validate_document(doc)]


def new_block(kind: str, name: str) -> dict:
    """A new block with a fresh output name; its other required fields are for the person to fill
    (the live check says which)."""
    block: dict[str, Any] = {"kind": kind}
    props = _kind_properties(kind)
    for field in OUTPUT_FIELDS:
        if field in props:
            block[field] = name
            break
    return block


def _kind_properties(kind: str) -> dict:
    from app.web.builder.doc_form import Schema

    s = Schema(schema())
    blocks = s.resolve(s.root.get("properties", {}).get("blocks", {}))[0]
    found = s.block_kinds(blocks.get("items", {})) if blocks else None
    return found[1].get(kind, {}).get("properties", {}) if found else {}


def _name(block: dict, fields: tuple[str, ...]) -> str | None:
    for field in fields:
        value = block.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def scopes(doc: dict) -> dict[str, list[str]]:
    """For each block's path, the variables a field of that block may use: the inputs, the
    outputs of the blocks before it (and of the blocks before the loop or condition it is in), and
    a loop's item inside the loop."""
    found: dict[str, list[str]] = {}
    inputs = [i.get("name") for i in doc.get("inputs") or [] if isinstance(i, dict) and isinstance(i.get("name"), str)]

    def walk(blocks: Any, path: str, visible: list[str]) -> list[str]:
        visible = list(visible)
        for i, block in enumerate(blocks if isinstance(blocks, list) else []):
            if not isinstance(block, dict):
                continue
            here = f"{path}.{i}"
            found[here] = list(dict.fromkeys(visible))
            inner = visible + ([_name(block, ITEM_FIELDS)] if block.get("kind") == "for_each" and _name(block, ITEM_FIELDS) else [])
            if block.get("kind") == "review":
                inner.append("feedback")
            for nested in NESTED_LISTS:
                if isinstance(block.get(nested), list):
                    walk(block[nested], f"{here}.{nested}", inner)
            out = _name(block, OUTPUT_FIELDS)
            if out:
                visible.append(out)
        return visible

    walk(doc.get("blocks"), "blocks", [n for n in inputs if n])
    return found
