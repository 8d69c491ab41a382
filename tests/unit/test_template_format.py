"""The template document's validation: every bad input the issue lists is refused at its path, with a
message a person can act on; a valid document passes and round-trips."""

from __future__ import annotations

import copy
import json

from app.templates import format as fmt
from app.templates.store import strip_private

GOOD = {
    "title": "Report",
    "inputs": [{"name": "topic", "label": "Topic", "kind": "long_text"}],
    "blocks": [
        {
            "id": "draft",
            "kind": "ask_model",
            "prompt": "About {{ inputs.topic }} {{ check.feedback }}",
        },
        {
            "id": "check",
            "kind": "review",
            "content": "{{ draft }}",
            "on_changes": "draft",
            "max_rounds": 2,
            "assignee": "boss@example.com",
        },
        {
            "id": "hook",
            "kind": "send",
            "channel": "webhook",
            "url": "https://example.com/h",
            "secret": "s3cret",
        },
        {
            "id": "mail",
            "kind": "send",
            "channel": "email",
            "to": "someone@example.com",
            "body": "{{ draft }}",
        },
    ],
}


def problems(doc, **kw) -> list[str]:
    return [str(p) for p in fmt.validate_document(doc, **kw)]


def test_the_example_in_the_module_docstring_is_valid():
    text = fmt.__doc__[fmt.__doc__.index("    {\n") :]
    assert problems(json.loads(text)) == []


def test_a_good_document_passes_and_its_dump_equals_the_original():
    assert problems(GOOD) == []
    assert fmt.parse(GOOD).dump() == {"format_version": 1, **GOOD}


def test_too_many_blocks_and_too_large():
    many = {
        "title": "x",
        "blocks": [{"id": f"b{i}", "kind": "wait", "duration": "1s"} for i in range(201)],
    }
    assert problems(many) == ["blocks: The template has 201 blocks; at most 200."]
    big = {"title": "x", "blocks": [{"id": "a", "kind": "ask_model", "prompt": "x" * 300_000}]}
    assert problems(big)[0].startswith("The template is 293 KB; at most 256 KB")


def test_nesting_deeper_than_five():
    block = {"id": "w", "kind": "wait", "duration": "1s"}
    for depth in range(6):
        block = {
            "id": f"if{depth}",
            "kind": "if",
            "condition": {"var": "run.date", "op": "is_empty"},
            "then": [block],
        }
    assert problems({"title": "x", "blocks": [block]}) == [
        "blocks.0.then.0.then.0.then.0.then.0.then: Blocks nest at most 5 deep."
    ]


def test_a_jump_back_needs_a_round_limit_and_an_earlier_target():
    doc = copy.deepcopy(GOOD)
    del doc["blocks"][1]["max_rounds"]
    assert problems(doc) == [
        "blocks.1.max_rounds: A review that jumps back needs a limit on rounds (it could loop forever)."
    ]
    doc["blocks"][1].update(max_rounds=2, on_changes="mail")
    assert (
        "blocks.1.on_changes: Jump back to an earlier block in the same list as this review."
        in problems(doc)
    )


def test_unknown_variables_inputs_and_later_blocks_are_refused_where_they_are_used():
    doc = copy.deepcopy(GOOD)
    doc["blocks"][0]["prompt"] = (
        "{{ inputs.nope }} {{ mail }} {{ ghost }} {% for x in inputs.topic %}{{ x }}{% endfor %}"
    )
    assert problems(doc) == [
        "blocks.0.prompt: Unknown variable “ghost” (not an input or an earlier block).",
        "blocks.0.prompt: Unknown variable “mail” (not an input or an earlier block).",
        "blocks.0.prompt: Unknown input “inputs.nope”.",
    ]


def test_invalid_jinja_and_unknown_connector():
    doc = copy.deepcopy(GOOD)
    doc["blocks"][0]["prompt"] = "{{ inputs.topic "
    doc["blocks"].append({"id": "pub", "kind": "send", "channel": "publish", "connector": "blog"})
    found = problems(doc, connector_exists=lambda name: name == "other")
    assert found[0].startswith("blocks.0.prompt: Template error on line 1:")
    assert found[1:] == ["blocks.4.connector: You have no connector named “blog”."]
    assert problems(doc, connector_exists=lambda name: name == "blog")[1:] == []


def test_shape_errors_name_the_field():
    assert problems(
        {
            "title": "",
            "blocks": [{"id": "Bad Id", "kind": "ask_model"}, {"id": "x", "kind": "dance"}],
        }
    ) == [
        "title: String should have at least 1 character",
        "blocks.0.id: Use lower-case letters, digits and _ (starting with a letter), at most 40 characters.",
        "blocks.0.prompt: Field required",
        "blocks.1: Unknown block kind; use one of: ask_model, ask_person, document, for_each, if, review, send, wait.",
    ]
    assert problems([1]) == ["A template is a JSON object."]


def test_duplicate_ids_and_reserved_names():
    doc = {
        "title": "x",
        "blocks": [
            {"id": "a", "kind": "wait", "duration": "1s"},
            {"id": "a", "kind": "wait", "duration": "1s"},
            {"id": "inputs", "kind": "wait", "duration": "1s"},
        ],
    }
    assert problems(doc) == [
        "blocks.1.id: Another block (blocks.0) already has the id a.",
        "blocks.2.id: “inputs” is a reserved name; choose another id.",
    ]


def test_variables_in_scope_for_the_picker():
    template = fmt.parse(GOOD)
    assert [v.name for v in fmt.variables_in_scope(template, "draft")] == [
        "inputs.topic",
        "run.date",
        "run.title",
        "check",
        "draft",
    ]
    assert [v.name for v in fmt.variables_in_scope(template, "mail")][-3:] == [
        "draft",
        "check",
        "hook",
    ]


def test_export_strips_secrets_and_email_addresses():
    stripped = strip_private(GOOD)
    assert "assignee" not in stripped["blocks"][1] and "secret" not in stripped["blocks"][2]
    assert (
        "url" not in stripped["blocks"][2] and GOOD["blocks"][2]["url"] == "https://example.com/h"
    )
    assert (
        stripped["blocks"][3]["to"] == "owner" and GOOD["blocks"][3]["to"] == "someone@example.com"
    )
    assert "example.com" not in json.dumps(stripped)
    # The import asks for the webhook's address again, at the block's field.
    assert problems(stripped) == ["blocks.2.url: Give the http(s) URL to send the webhook to."]


def test_the_json_schema_is_published_with_every_block_kind():
    schema = json.dumps(fmt.document_schema())
    for kind in ("ask_model", "review", "ask_person", "wait", "for_each", "if", "document", "send"):
        assert f'"{kind}"' in schema


def _review_doc(**review) -> dict:
    return {
        "title": "Reviewed",
        "inputs": [{"name": "topic", "label": "Topic"}],
        "blocks": [
            {"id": "draft", "kind": "ask_model", "prompt": "Write about {{ inputs.topic }}"},
            {"id": "check", "kind": "review", "content": "{{ draft }}", **review},
        ],
    }


def test_a_review_may_go_to_a_role_and_need_several_approvals_from_it():
    from app.templates.format import validate_document

    assert validate_document(_review_doc(assign_role="admin", required=2), team=True) == []
    paths = {p.path: p.message for p in validate_document(_review_doc(assign_role="boss"))}
    assert "blocks.1.assign_role" in paths
    both = validate_document(_review_doc(assign_role="admin", assignee="a@example.com"))
    assert [p.message for p in both] == ["Assign to a person or to a role, not both."]
    alone = validate_document(_review_doc(required=2))
    assert [p.path for p in alone] == ["blocks.1.required"]
    personal = validate_document(_review_doc(assign_role="member"), team=False)
    assert [p.path for p in personal] == ["blocks.1.assign_role"]


def test_an_ask_person_form_cannot_ask_for_files():
    doc = {
        "title": "x",
        "blocks": [
            {
                "id": "ask",
                "kind": "ask_person",
                "message": "Send it",
                "fields": [{"name": "doc", "label": "Doc", "kind": "file"}],
            }
        ],
    }
    assert problems(doc) == [
        "blocks.0.fields: A person answering mid-run cannot upload files: use an input instead."
    ]


def test_export_drops_defaults_holding_email_addresses():
    doc = {
        "title": "x",
        "inputs": [
            {"name": "to", "label": "To", "default": "Ann <ann@corp.example>"},
            {"name": "cc", "label": "Cc", "kind": "text_list", "default": ["a", "b@corp.example"]},
            {"name": "topic", "label": "Topic", "default": "otters"},
        ],
        "blocks": [
            {
                "id": "ask",
                "kind": "ask_person",
                "message": "Who?",
                "fields": [{"name": "who", "label": "Who", "default": "bob@corp.example"}],
            }
        ],
    }
    stripped = strip_private(doc)
    assert "corp.example" not in json.dumps(stripped)
    assert stripped["inputs"][2]["default"] == "otters"
    assert "default" in doc["inputs"][0]  # the owner's own document is untouched
