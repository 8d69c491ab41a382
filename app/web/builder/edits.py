"""The editor's structural edits on a document, named by the button pressed (`op`):

    add:<list path>:<index>:<kind>   a new block of that kind at that place in a flow
    add:<list path>                  a new item at the end of a list (an input, a form field)
    up:<path> / down:<path>          move a block or an item one place
    dup:<path>                       a copy of it right after it
    del:<path>                       remove it

An edit that names nothing (a stale page) changes nothing: the editor is re-rendered as it is.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

MAX_OP = 300


def _walk(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _parent(doc: dict, path: str) -> tuple[list | None, int]:
    parts = path.split(".")
    if len(parts) < 2 or not parts[-1].isdigit():
        return None, -1
    parent = _walk(doc, parts[:-1])
    index = int(parts[-1])
    if not isinstance(parent, list) or index >= len(parent):
        return None, -1
    return parent, index


def _fresh_name(doc: dict, kind: str) -> str:
    """A name for a new block's output not used yet: `draft`, `draft_2`, …"""
    used = set(re.findall(r'"(?:name|output|save_as|id)":\s*"([^"]+)"', json.dumps(doc)))
    base = {
        "ask_model": "answer",
        "review": "review",
        "ask_person": "reply",
        "wait": "wait",
        "for_each": "each",
        "if": "check",
        "document": "document",
        "send": "sent",
    }.get(kind, kind)
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}_{n}"
    return name


def apply(doc: dict, op: str, new_block: Any = None) -> tuple[dict, str | None]:
    """The document after the edit, and the path to focus afterwards (None: nothing changed).
    `new_block(kind, name)` makes a new block of a kind (the format knows its required fields)."""
    if not op or len(op) > MAX_OP:
        return doc, None
    doc = copy.deepcopy(doc)
    verb, _, rest = op.partition(":")
    if verb == "add":
        where, _, tail = rest.partition(":")
        target = _walk(doc, where.split(".")) if where else None
        if target is None:
            parent_parts = where.split(".")
            holder = _walk(doc, parent_parts[:-1]) if len(parent_parts) > 1 else doc
            if isinstance(holder, dict) and re.fullmatch(r"[A-Za-z_]+", parent_parts[-1]):
                target = holder.setdefault(parent_parts[-1], [])
        if not isinstance(target, list):
            return doc, None
        if tail:
            index_text, _, kind = tail.partition(":")
            if not index_text.isdigit() or not kind:
                return doc, None
            index = min(int(index_text), len(target))
            block = new_block(kind, _fresh_name(doc, kind)) if new_block else {"kind": kind}
            target.insert(index, block)
            return doc, f"{where}.{index}"
        target.append({})
        return doc, f"{where}.{len(target) - 1}"
    parent, index = _parent(doc, rest)
    if parent is None:
        return doc, None
    base = rest.rsplit(".", 1)[0]
    if verb == "up" and index > 0:
        parent[index - 1], parent[index] = parent[index], parent[index - 1]
        return doc, f"{base}.{index - 1}"
    if verb == "down" and index < len(parent) - 1:
        parent[index + 1], parent[index] = parent[index], parent[index + 1]
        return doc, f"{base}.{index + 1}"
    if verb == "dup":
        clone = copy.deepcopy(parent[index])
        if isinstance(clone, dict):
            for key in ("name", "output", "save_as", "id"):
                if isinstance(clone.get(key), str):
                    clone[key] = _fresh_name(doc, clone[key])
        parent.insert(index + 1, clone)
        return doc, f"{base}.{index + 1}"
    if verb == "del":
        del parent[index]
        return doc, base
    return doc, None
