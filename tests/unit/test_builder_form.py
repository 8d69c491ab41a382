"""The builder's editor form, both ways, on a document model shaped like the template format (a
discriminated union of blocks, nested block lists, lists of objects and of text, yes/no, choices),
and its structural edits."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.web.builder import doc_form, edits
from app.web.builder.editing import norm_path, place


class Input(BaseModel):
    name: str
    label: str = ""
    kind: Literal["short_text", "long_text", "number"] = "short_text"
    required: bool = True


class AskModel(BaseModel):
    kind: Literal["ask_model"] = "ask_model"
    output: str
    prompt: str
    temperature: float | None = None


class ForEach(BaseModel):
    kind: Literal["for_each"] = "for_each"
    output: str
    items: str
    item: str = "item"
    blocks: list[Block] = []


class If(BaseModel):
    kind: Literal["if"] = "if"
    variable: str
    then: list[Block] = []
    otherwise: list[Block] = []


Block = Annotated[AskModel | ForEach | If, Field(discriminator="kind")]
ForEach.model_rebuild()
If.model_rebuild()


class Doc(BaseModel):
    title: str
    tags: list[str] = []
    inputs: list[Input] = []
    blocks: list[Block] = []


SCHEMA = Doc.model_json_schema()
DOC = {
    "title": "Weekly report",
    "tags": ["a", "b"],
    "inputs": [{"name": "topic", "label": "Topic", "kind": "short_text", "required": True}],
    "blocks": [
        {"kind": "ask_model", "output": "draft", "prompt": "Write about {{ topic }}"},
        {
            "kind": "for_each",
            "output": "parts",
            "items": "draft",
            "item": "part",
            "blocks": [
                {
                    "kind": "if",
                    "variable": "part",
                    "then": [{"kind": "ask_model", "output": "x", "prompt": "p"}],
                    "otherwise": [],
                },
            ],
        },
    ],
}


def form_of(nodes: list[doc_form.Node]) -> list[tuple[str, str]]:
    """What a browser would submit for the rendered nodes."""
    out = []
    for n in nodes:
        if n.kind == "block":
            out.append((f"{n.path}.{n.attrs['disc']}", n.block_kind))
        if n.kind == "checkbox":
            out.append((n.path, "false"))
            if n.value:
                out.append((n.path, "true"))
        elif n.kind in ("text", "textarea", "number", "select", "lines"):
            out.append((n.path, n.value))
        out += form_of(n.children)
    return out


def test_a_document_survives_the_form_both_ways():
    tree = doc_form.editor_tree(DOC, SCHEMA)
    parsed = doc_form.parse_form(form_of(tree), SCHEMA)
    assert Doc.model_validate(parsed).model_dump(exclude_defaults=True) == Doc.model_validate(
        DOC
    ).model_dump(exclude_defaults=True)


def test_nested_blocks_are_rendered_as_nested_flows():
    tree = doc_form.editor_tree(DOC, SCHEMA)
    flow = next(n for n in tree if n.kind == "blocks")
    assert set(flow.options) == {"ask_model", "for_each", "if"}
    loop = flow.children[1]
    inner = next(c for c in loop.children if c.kind == "blocks")
    assert inner.path == "blocks.1.blocks"
    condition = inner.children[0]
    assert [c.path for c in condition.children if c.kind == "blocks"] == [
        "blocks.1.blocks.0.then",
        "blocks.1.blocks.0.otherwise",
    ]


def test_blank_fields_are_left_out_and_unknown_names_ignored():
    parsed = doc_form.parse_form(
        [
            ("title", "  "),
            ("blocks.0.kind", "ask_model"),
            ("blocks.0.prompt", "Hi"),
            ("blocks.1.kind", "no_such_kind"),
            ("_csrf_token", "x"),
            ("op", "save"),
            ("evil.__class__", "x"),
            ("tags", "one\r\n\r\ntwo\n"),
        ],
        SCHEMA,
    )
    assert parsed == {"blocks": [{"kind": "ask_model", "prompt": "Hi"}], "tags": ["one", "two"]}


def test_structural_edits():
    doc, focus = edits.apply(
        DOC, "add:blocks:1:ask_model", lambda kind, name: {"kind": kind, "output": name}
    )
    assert [b["kind"] for b in doc["blocks"]] == [
        "ask_model",
        "ask_model",
        "for_each",
    ] and focus == "blocks.1"
    assert doc["blocks"][1]["output"] == "answer"
    doc, focus = edits.apply(doc, "down:blocks.1", None)
    assert [b["kind"] for b in doc["blocks"]] == [
        "ask_model",
        "for_each",
        "ask_model",
    ] and focus == "blocks.2"
    doc, _ = edits.apply(doc, "dup:blocks.0", None)
    assert doc["blocks"][1]["output"] == "draft_2"
    doc, focus = edits.apply(doc, "del:blocks.1.blocks.0", None)
    assert focus is None or focus.startswith("blocks")
    doc, focus = edits.apply(
        doc, "add:blocks.2.blocks.0.then:0:if", lambda kind, name: {"kind": kind}
    )
    assert doc["blocks"][2]["blocks"][0]["then"][0] == {"kind": "if"}
    doc, focus = edits.apply(doc, "add:inputs", None)
    assert doc["inputs"][-1] == {} and focus == "inputs.1"
    unchanged, focus = edits.apply(doc, "up:blocks.99", None)
    assert unchanged == doc and focus is None
    assert edits.apply(DOC, "del:title", None)[1] is None
    assert DOC["blocks"][0]["output"] == "draft"  # the original is never changed


def test_problems_land_next_to_the_field_they_are_about():
    tree = doc_form.editor_tree(DOC, SCHEMA)
    nodes: dict = {}
    from app.web.builder.editing import _paths

    _paths(tree, nodes)
    shown, slots = place(
        [
            ("blocks[1].blocks[0].then[0].prompt", "Unknown variable “nope”."),
            (("blocks", 0, "nothing_here"), "Bad."),
            ("", "Too large."),
        ],
        nodes,
    )
    assert slots["blocks.1.blocks.0.then.0.prompt"] == "Unknown variable “nope”."
    assert slots["blocks.0"] == "Bad." and slots[""] == "Too large."
    assert shown[0].where == "Blocks 2 › blocks 1 › then 1 › prompt"
    assert norm_path("/blocks/3/prompt") == "blocks.3.prompt"
