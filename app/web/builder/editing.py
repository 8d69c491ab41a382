"""What the editor shows for a document: its nodes, the problems placed next to their fields, the
variables in scope at each block, and the answer of the live check.

    view = editor_view(doc, problems, focus=None)   # context for partials/builder/editor.html
    slots = error_slots(view)                       # every field's error slot, for the live check
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.web.builder import doc_form, formats
from app.web.builder.doc_form import Node


@dataclass(frozen=True)
class Shown:
    """A problem as the editor lists it: where (words), what, and the id of the field it belongs to."""

    path: str
    where: str
    message: str
    id: str


def norm_path(path: Any) -> str:
    """A problem's path in the editor's form ("blocks.2.prompt"), whatever way the format wrote it
    (a tuple, "blocks[2].prompt", "/blocks/2/prompt", "$.blocks.2")."""
    if isinstance(path, list | tuple):
        return ".".join(str(p) for p in path)
    text = str(path or "").strip().lstrip("$").strip("./")
    return re.sub(r"\[(\d+)\]", r".\1", text).replace("/", ".").strip(".")


def _where(path: str) -> str:
    if not path:
        return "Template"
    words = []
    for part in path.split("."):
        if part.isdigit():
            words[-1:] = [f"{words[-1] if words else ''} {int(part) + 1}".strip()]
        else:
            words.append(part.replace("_", " "))
    text = " › ".join(words)
    return text[:1].upper() + text[1:]


def _paths(nodes: list[Node], out: dict[str, Node]) -> None:
    for n in nodes:
        out[n.path] = n
        _paths(n.children, out)


# pydantic's words for a missing value, as a person reads them.
REWORDED = {
    "Field required": "This field is required.",
    "String should have at least 1 character": "This field is required.",
    "List should have at least 1 item after validation, not 0": "Add at least one.",
}


def place(
    problems: list[tuple[str, str]], nodes: dict[str, Node] | set[str]
) -> tuple[list[Shown], dict[str, str]]:
    """Each problem shown at the deepest shown field its path starts with (a problem about a whole
    block at the block, about the document at the top)."""
    shown, slots = [], {}
    for raw_path, message in problems:
        path, message = norm_path(raw_path), REWORDED.get(message, message)
        target = path
        while target and target not in nodes:
            target = target.rsplit(".", 1)[0] if "." in target else ""
        slots[target] = f"{slots[target]} {message}" if target in slots else message
        shown.append(
            Shown(
                path,
                _where(path),
                message,
                doc_form.dom_id(target) if target else "editor-problems",
            )
        )
    return shown, slots


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The editor's nodes of a long template are thousands of small objects: allocated under the
    collector, most of the time went to full collections of the whole process (11 ms → 2 ms for
    100 blocks, bench/editor.py). Synchronous code only, so no other request runs meanwhile."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def editor_view(
    doc: dict, problems: list[tuple[str, str]], *, focus: str | None = None, key: str = "new"
) -> dict:
    with gc_paused():
        tree = doc_form.editor_tree(doc, formats.schema())
    nodes: dict[str, Node] = {}
    _paths(tree, nodes)
    shown, errors = place(problems, nodes)
    ctx = {"errors": errors, "kind_titles": formats.KIND_TITLES, "focus": focus, "key": key}
    return {"tree": tree, "ctx": ctx, "problems": shown, "nodes": nodes}


def check_view(doc_paths: set[str], problems: list[tuple[str, str]]) -> dict:
    """The live check's answer without building the editor: the problems placed among the paths
    the form sent (and the lists and blocks they are in)."""
    paths = {""}
    for path in doc_paths:
        parts = path.split(".")
        paths.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    shown, errors = place(problems, paths)
    return {"problems": shown, "slots": [(doc_form.dom_id(p), m) for p, m in errors.items()]}


def error_slots(view: dict) -> list[tuple[str, str]]:
    errors = view["ctx"]["errors"]
    return [(n.id, errors.get(path, "")) for path, n in view["nodes"].items()] + [
        (doc_form.dom_id(""), errors.get("", ""))
    ]
