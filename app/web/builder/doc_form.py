"""A template document as the editor's one big form, both ways, driven by the document model's
JSON Schema (so a new block kind or field needs no change here).

    tree = editor_tree(doc, schema)          # what the editor renders (partials/builder/node.html)
    doc = parse_form(form_items, schema)     # the submitted form back as a document

Every input is named by its path in the document, dots between the parts: `title`,
`inputs.0.label`, `blocks.3.blocks.0.prompt` (a block nested in a for_each). Blank inputs are left
out (the model's defaults apply); lists of text are one item a line; yes/no is a hidden "false"
followed by a checkbox, so the last value sent wins. Values stay the strings the person typed:
the model's own (lax) validation turns "3" into 3, and an invalid value is shown back as typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Fields of these names are written in several lines.
LONG_TEXT = {
    "prompt",
    "system",
    "system_prompt",
    "content",
    "markdown",
    "body",
    "description",
    "message",
    "text",
    "template",
    "instructions",
    "feedback_prompt",
    "note",
}
# Fields of these names stay on one line however long they may be (an address is one line).
ONE_LINE = {"url"}
MAX_FORM_ITEMS = 20_000


@dataclass
class Node:
    """One thing the editor shows. `kind` is one of: text, textarea, number, checkbox, select,
    lines (a list of text), group (an object's fields), items (a list of objects), blocks (a list
    of blocks: the flow), block (one block of a flow)."""

    kind: str
    path: str
    label: str = ""
    value: Any = ""
    hint: str = ""
    required: bool = False
    # A field another one makes necessary ("the channel is webhook"; app/web/builder/formats.py
    # REQUIRED_WHEN): required while it holds, and labelled so whatever the other's value.
    required_when: str = ""
    options: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    block_kind: str = ""  # a block's kind; a blocks list: the kinds it can hold in `options`
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return dom_id(self.path)


def dom_id(path: str) -> str:
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", path) if path else "f-doc"


def label_of(name: str, prop: dict) -> str:
    return prop.get("title") or name.replace("_", " ").capitalize()


class Schema:
    """The JSON Schema of the document model with its $defs resolved on demand."""

    def __init__(
        self,
        schema: dict,
        labels: dict[str, str] | None = None,
        required_when: dict[str, dict[str, str]] | None = None,
    ):
        self.root = schema
        self.defs = schema.get("$defs", {})
        self.labels = labels or {}
        self.required_when = required_when or {}

    def resolve(self, prop: dict) -> tuple[dict, bool]:
        """The property's own schema ($ref followed, an Optional's non-null branch) and whether null is allowed."""
        nullable = False
        for _ in range(10):
            if "$ref" in prop:
                ref = self.defs.get(prop["$ref"].rsplit("/", 1)[-1], {})
                prop = {**ref, **{k: v for k, v in prop.items() if k != "$ref"}}
            elif "anyOf" in prop and not _is_union_of_objects(prop["anyOf"], self):
                branches = [b for b in prop["anyOf"] if b.get("type") != "null"]
                nullable = nullable or len(branches) < len(prop["anyOf"])
                rest = {k: v for k, v in prop.items() if k != "anyOf"}
                prop = {**(branches[0] if branches else {}), **rest}
            elif "allOf" in prop and len(prop["allOf"]) == 1:
                prop = {**prop["allOf"][0], **{k: v for k, v in prop.items() if k != "allOf"}}
            else:
                break
        return prop, nullable

    def block_kinds(self, items: dict) -> tuple[str, dict[str, dict]] | None:
        """For the items of a list of blocks: the discriminating property and each kind's schema."""
        items, _ = self.resolve(items) if "$ref" in items else (items, False)
        variants = items.get("oneOf") or items.get("anyOf")
        if not variants:
            return None
        disc = (items.get("discriminator") or {}).get("propertyName")
        kinds: dict[str, dict] = {}
        for variant in variants:
            schema, _ = self.resolve(variant)
            props = schema.get("properties", {})
            name = disc or next((k for k in ("kind", "type") if k in props), None)
            if not name or name not in props:
                return None
            disc = name
            tag = (
                props[name].get("const")
                or (props[name].get("enum") or [None])[0]
                or props[name].get("default")
            )
            if tag is None:
                return None
            kinds[str(tag)] = schema
        return (disc, kinds) if disc and kinds else None


def _is_union_of_objects(branches: list[dict], schema: Schema) -> bool:
    real = [b for b in branches if b.get("type") != "null"]
    return len(real) > 1 and all("$ref" in b or b.get("type") == "object" for b in real)


# -- document -> what the editor shows ---------------------------------------------------------


def editor_tree(doc: dict, schema: dict | Schema) -> list[Node]:
    """What the editor shows for `doc` (a `Schema` may carry labels for field names)."""
    s = schema if isinstance(schema, Schema) else Schema(schema)
    return _object_nodes(s, s.root, doc if isinstance(doc, dict) else {}, "", skip=())


def _join(base: str, part: str | int) -> str:
    return f"{base}.{part}" if base else str(part)


def _object_nodes(
    s: Schema, schema: dict, value: dict, path: str, skip: tuple[str, ...]
) -> list[Node]:
    required = set(schema.get("required", []))
    nodes = []
    for name, raw in schema.get("properties", {}).items():
        if name in skip:
            continue
        node = _node(s, name, raw, value.get(name), _join(path, name), name in required)
        if node:
            _when(node, s.required_when.get(name) or {}, value)
            nodes.append(node)
    return nodes


def _when(node: Node, when: dict[str, str], siblings: dict) -> None:
    """A field required only when a sibling has a value (a webhook send's URL)."""
    for other, wanted in when.items():
        node.required_when = f"the {other.replace('_', ' ')} is {wanted}"
        node.required = node.required or siblings.get(other) == wanted


def _node(s: Schema, name: str, raw: dict, value: Any, path: str, required: bool) -> Node | None:
    prop, nullable = s.resolve(raw)
    label, hint = s.labels.get(name) or label_of(name, prop), prop.get("description", "")
    required = required and not nullable
    kind = prop.get("type")
    if kind == "array":
        items = prop.get("items", {})
        blocks = s.block_kinds(items)
        values = value if isinstance(value, list) else []
        if blocks:
            disc, kinds = blocks
            children = [_block(s, disc, kinds, v, _join(path, i)) for i, v in enumerate(values)]
            return Node("blocks", path, label, hint=hint, options=list(kinds), children=children)
        item_schema, _ = s.resolve(items)
        if item_schema.get("type") == "object" or "properties" in item_schema:
            children = [
                Node(
                    "group",
                    _join(path, i),
                    f"{label} {i + 1}",
                    children=_object_nodes(
                        s, item_schema, v if isinstance(v, dict) else {}, _join(path, i), ()
                    ),
                )
                for i, v in enumerate(values)
            ]
            return Node("items", path, label, hint=hint, children=children)
        text = value if isinstance(value, str) else "\n".join(str(v) for v in values)
        return Node("lines", path, label, text, hint or "One a line.", required)
    if kind == "object" or "properties" in prop:
        return Node(
            "group",
            path,
            label,
            hint=hint,
            children=_object_nodes(s, prop, value if isinstance(value, dict) else {}, path, ()),
        )
    if value is None:
        value = prop.get("default")
    if "enum" in prop or "const" in prop:
        options = [str(o) for o in prop.get("enum", [prop.get("const")])]
        # A choice that may be left unset (no default, or a null one) offers "—" first.
        blank = [] if required or prop.get("default") is not None else [""]
        return Node(
            "select",
            path,
            label,
            "" if value is None else str(value),
            hint,
            required,
            options=blank + options,
        )
    if kind == "boolean":
        return Node("checkbox", path, label, value in (True, "true", "on", "1"), hint)
    attrs: dict[str, Any] = {}
    if kind in ("integer", "number"):
        attrs["step"] = "1" if kind == "integer" else "any"
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if key in prop:
                attrs[attr] = prop[key]
        return Node(
            "number", path, label, "" if value is None else str(value), hint, required, attrs=attrs
        )
    if "maxLength" in prop:
        attrs["maxlength"] = prop["maxLength"]
    long = name not in ONE_LINE and (
        name in LONG_TEXT or prop.get("maxLength", 0) > 500 or prop.get("widget") == "textarea"
    )
    text = "" if value is None else value if isinstance(value, str) else str(value)
    return Node("textarea" if long else "text", path, label, text, hint, required, attrs=attrs)


def _block(s: Schema, disc: str, kinds: dict[str, dict], value: Any, path: str) -> Node:
    value = value if isinstance(value, dict) else {}
    kind = str(value.get(disc) or "")
    schema = kinds.get(kind)
    title = (schema or {}).get("title") or kind.replace("_", " ")
    children = _object_nodes(s, schema, value, path, skip=(disc,)) if schema else []
    node = Node("block", path, title, block_kind=kind, children=children)
    node.attrs["disc"] = disc
    return node


# -- the submitted form -> document ------------------------------------------------------------


def parse_form(items: Iterable[tuple[str, str]], schema: dict | Schema) -> dict:
    """The editor's form as a document. Only inputs named by a path count (not the CSRF token or
    the button pressed); later values of a name replace earlier ones (yes/no)."""
    s = schema if isinstance(schema, Schema) else Schema(schema)
    raw: dict = {}
    for n, (name, value) in enumerate(items):
        if n >= MAX_FORM_ITEMS:
            break
        if not isinstance(value, str) or not name or name.startswith("_") or name in ("op",):
            continue
        parts = name.split(".")
        if len(parts) > 40 or not all(re.fullmatch(r"[A-Za-z0-9_]{1,64}", p) for p in parts):
            continue
        _put(raw, parts, value)
    return _shape(s, s.root, raw)


def _put(tree: dict, parts: list[str], value: str) -> None:
    for part in parts[:-1]:
        nxt = tree.get(part)
        if not isinstance(nxt, dict):
            nxt = tree[part] = {}
        tree = nxt
    tree[parts[-1]] = value


def _shape(s: Schema, schema: dict, raw: dict) -> dict:
    out: dict = {}
    props = schema.get("properties", {})
    for name, value in raw.items():
        if name not in props:
            continue
        shaped = _value(s, props[name], value)
        if shaped is not None:
            out[name] = shaped
    return out


def _indexed(value: Any) -> list:
    if not isinstance(value, dict):
        return []
    return [value[k] for k in sorted((k for k in value if k.isdigit()), key=int)]


def _value(s: Schema, raw_prop: dict, value: Any) -> Any:
    prop, _ = s.resolve(raw_prop)
    kind = prop.get("type")
    if kind == "array":
        items = prop.get("items", {})
        blocks = s.block_kinds(items)
        if blocks:
            disc, kinds = blocks
            out = []
            for v in _indexed(value):
                kind_name = v.get(disc) if isinstance(v, dict) else None
                if kind_name in kinds:
                    out.append({disc: kind_name, **_shape(s, kinds[kind_name], v)})
            return out
        item_schema, _ = s.resolve(items)
        if item_schema.get("type") == "object" or "properties" in item_schema:
            return [
                _shape(s, item_schema, v) if isinstance(v, dict) else {} for v in _indexed(value)
            ]
        if isinstance(value, str):
            return [line.strip() for line in value.splitlines() if line.strip()]
        return None
    if kind == "object" or "properties" in prop:
        return _shape(s, prop, value) if isinstance(value, dict) else None
    if not isinstance(value, str):
        return None
    if kind == "boolean":
        return value.lower() in ("true", "on", "1", "yes")
    value = value.replace("\r\n", "\n")
    return value if value.strip() else None
