"""The workflow template document: what a person builds in the browser and what the interpreter runs.

A template is JSON data, never code. `Template` is its pydantic model (its JSON Schema is published in the
API docs); `validate_document` answers every problem at once as `Problem(path, message)`, with `path` in
the document's own terms (`blocks.3.prompt`), so the builder can show each one beside its field and the CLI
can print `path: message` lines. `variables_in_scope` lists what a block may use (the variable picker).

Variables: `inputs.<name>` (the template's inputs), `<block id>` (an earlier block's output), the
`for_each` item (its `as`, default `item`), `run.date` / `run.title`. Texts marked *template* below are
Jinja2 rendered in a sandbox (`{{ inputs.topic }}`, `{% for s in sources %}…{% endfor %}`); conditions,
`for_each.items` and `wait.until` name a variable by its path (`inputs.topics`, `research.sources`).

A block's output (what later blocks see under its id):
- ask_model: the answer text, or an object with the requested `json_fields`
- review: `{decision: approve|changes|reject, feedback, decided_by, rounds}`; blocks from the jump-back
  target to the review may already use it (decision is empty and feedback "" on the first round), and
  the repeated blocks may read their own previous answer (empty on the first round)
- ask_person: an object of the answered fields
- wait: `{waited_until}`; for_each: a list, one entry per item (the `collect` block's output, by default
  the last nested block's); if: `{branch: then|else}` (blocks inside a branch not taken are empty)
- document: `{title, markdown, files}`; send: `{sent, channel}`

A complete example:

    {
      "format_version": 1,
      "title": "Reviewed report",
      "description": "Drafts a report, you review it (with up to 3 revisions), then a PDF.",
      "category": "Writing", "icon": "📝",
      "inputs": [
        {"name": "topic", "label": "What is the report about?", "kind": "long_text"},
        {"name": "sections", "label": "Sections", "kind": "text_list", "required": false}
      ],
      "blocks": [
        {"id": "draft", "kind": "ask_model", "system": "You write clear reports in Markdown.",
         "prompt": "Write a report on {{ inputs.topic }}.{% if check.feedback %} Apply: {{ check.feedback }}{% endif %}"},
        {"id": "check", "kind": "review", "content": "{{ draft }}", "on_changes": "draft", "max_rounds": 3,
         "timeout": "24h"},
        {"id": "approved", "kind": "if", "condition": {"var": "check.decision", "op": "decision_was", "value": "approve"},
         "then": [
           {"id": "pause", "kind": "wait", "duration": "5s"},
           {"id": "report", "kind": "document", "doc_title": "{{ inputs.topic }}", "markdown": "{{ draft }}"},
           {"id": "tell", "kind": "send", "channel": "email", "to": "owner", "subject": "Report ready",
            "body": "{{ report.title }} is ready."}
         ]}
      ]
    }
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.workflows.inputs import Duration

FORMAT_VERSION = 1
MAX_BLOCKS = 200
MAX_BYTES = 256 * 1024
MAX_DEPTH = 5  # top-level blocks are depth 1; each for_each / if adds one
MAX_ROUNDS = 20
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
RESERVED_NAMES = {"inputs", "run", "item", "loop", "range", "true", "false", "none", "namespace"}
TEXT_MAX = 20_000

Name = Annotated[
    str,
    Field(pattern=NAME_PATTERN, description="lower-case letters, digits, _; starts with a letter"),
]
TemplateText = Annotated[
    str, Field(max_length=TEXT_MAX, description="Jinja2 template text (sandboxed)")
]
VarPath = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)*$",
        max_length=200,
        description="a variable's dotted path, like inputs.topic or review.decision",
    ),
]

InputKind = Literal[
    "short_text",
    "long_text",
    "number",
    "yes_no",
    "choice",
    "datetime",
    "text_list",
    "file",
    "files",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputField(_Strict):
    """One field of the template's start form (also of an `ask_person` form)."""

    name: Name
    label: str = Field(min_length=1, max_length=200)
    kind: InputKind = "short_text"
    required: bool = True
    help: str = Field("", max_length=500)
    default: Any = None
    choices: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50
    )

    @field_validator("choices")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("Each choice may appear only once.")
        return value


class _Block(_Strict):
    id: Name
    title: str = Field(
        "", max_length=200, description="shown on the run card; empty: the block's id"
    )


class AskModel(_Block):
    kind: Literal["ask_model"]
    prompt: TemplateText = Field(min_length=1)
    system: TemplateText = ""
    model: str = Field("", max_length=100, description="empty: the deployment's default model")
    temperature: float | None = Field(None, ge=0, le=2)
    json_fields: list[Name] = Field(
        default_factory=list, max_length=30, description="answer as a JSON object with these fields"
    )


# Who a review or ask_person may be assigned to besides a person: a role of the run's team
# (app.core.policy.ASSIGNABLE_ROLES); several approvals (`required`) come from such a role.
AssignRole = Literal["member", "admin", "owner"]
MAX_REQUIRED = 20


class Review(_Block):
    kind: Literal["review"]
    content: TemplateText = Field(min_length=1, description="what the reviewer reads (Markdown)")
    note: TemplateText = ""
    on_changes: Name | None = Field(
        None, description="on 'request changes', go back to this earlier block"
    )
    max_rounds: int | None = Field(
        None, ge=1, le=MAX_ROUNDS, description="change requests allowed at most"
    )
    on_reject: Literal["stop", "continue"] = "stop"
    timeout: Duration = "24h"
    remind_before: Duration | None = None
    assignee: str | None = Field(
        None, max_length=254, description="reviewer's e-mail; empty: the owner"
    )
    assign_role: AssignRole | None = Field(
        None, description="a role of the run's team instead (that role or above; team runs only)"
    )
    required: int = Field(
        1, ge=1, le=MAX_REQUIRED, description="approvals needed from different people"
    )


class AskPerson(_Block):
    kind: Literal["ask_person"]
    message: TemplateText = Field(min_length=1)
    fields: list[InputField] = Field(min_length=1, max_length=30)
    timeout: Duration = "24h"
    assignee: str | None = Field(None, max_length=254)
    assign_role: AssignRole | None = None

    @field_validator("fields")
    @classmethod
    def _no_uploads(cls, value: list[InputField]) -> list[InputField]:
        if any(f.kind in ("file", "files") for f in value):
            raise ValueError(
                "A person answering mid-run cannot upload files: use an input instead."
            )
        return value


class Wait(_Block):
    kind: Literal["wait"]
    duration: Duration | None = None
    until: VarPath | None = Field(None, description="a variable holding an ISO date-time")


class Condition(_Strict):
    var: VarPath
    op: Literal["equals", "contains", "greater_than", "is_empty", "decision_was"]
    value: str | float | bool | None = None
    negate: bool = False


class ForEach(_Block):
    kind: Literal["for_each"]
    items: VarPath = Field(description="a variable holding a list")
    as_: Name = Field("item", alias="as")
    concurrency: int = Field(4, ge=1, le=10)
    collect: Name | None = Field(
        None, description="whose output each entry is; empty: the last nested block's"
    )
    blocks: list[Block] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class If(_Block):
    kind: Literal["if"]
    condition: Condition
    then: list[Block] = Field(default_factory=list)
    else_: list[Block] = Field(default_factory=list, alias="else")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Document(_Block):
    kind: Literal["document"]
    title_text: TemplateText = Field(
        "", alias="doc_title", description="the document's title (template)"
    )
    markdown: TemplateText = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Send(_Block):
    kind: Literal["send"]
    channel: Literal["email", "publish", "webhook"]
    to: str = Field("owner", max_length=254, description="email: 'owner' or an address")
    subject: TemplateText = ""
    body: TemplateText = ""
    connector: str | None = Field(None, max_length=100, description="publish: the connector's name")
    url: str | None = Field(None, max_length=2000, description="webhook: the https URL to POST to")
    secret: str | None = Field(None, max_length=200, description="webhook: HMAC-SHA256 signing key")


Block = Annotated[
    AskModel | Review | AskPerson | Wait | ForEach | If | Document | Send,
    Field(discriminator="kind"),
]
ForEach.model_rebuild()
If.model_rebuild()


class Template(_Strict):
    format_version: Literal[1] = FORMAT_VERSION
    title: str = Field(min_length=1, max_length=120)
    description: str = Field("", max_length=2000)
    category: str = Field("General", max_length=60)
    icon: str = Field("", max_length=16)
    inputs: list[InputField] = Field(default_factory=list, max_length=50)
    blocks: list[Block] = Field(min_length=1)

    def dump(self) -> dict:
        """The document as JSON data, in the same shape the import takes."""
        body = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return {"format_version": self.format_version, **body}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class Variable:
    name: str  # what to type inside {{ }}
    label: str  # what it is, for the picker


def people_time(value: Any) -> str:
    """`{{ slot|when }}`: an ISO date-time as people read it, in the zone it was written in
    ("Mon 4 May 2026, 09:00 UTC+02:00"; without a zone, UTC); anything else as it is."""
    try:
        when = (
            value
            if isinstance(value, datetime)
            else datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        )
    except ValueError:
        return str(value)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return f"{when:%a %-d %b %Y, %H:%M} {when.tzname()}"


ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
ENV.filters["when"] = people_time


def document_schema() -> dict:
    """The JSON Schema of a template document (published in the API docs)."""
    return Template.model_json_schema(by_alias=True)


def parse(doc: dict) -> Template:
    """A document already known valid (stored versions) as a `Template`."""
    return Template.model_validate(doc)


# --- validation -------------------------------------------------------------------------------------------


def _raw_shape_problems(doc: Any) -> list[Problem]:
    """Size and depth, read from the raw data before pydantic walks it (a deep bomb never gets that far)."""
    if not isinstance(doc, dict):
        return [Problem("", "A template is a JSON object.")]
    try:
        size = len(json.dumps(doc, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        return [Problem("", "The template is not valid JSON data.")]
    if size > MAX_BYTES:
        return [Problem("", f"The template is {size // 1024} KB; at most {MAX_BYTES // 1024} KB.")]
    problems, count = [], 0
    stack: list[tuple[Any, str, int]] = [(doc.get("blocks"), "blocks", 1)]
    while stack:
        blocks, path, depth = stack.pop()
        if not isinstance(blocks, list):
            continue
        for i, block in enumerate(blocks):
            count += 1
            if not isinstance(block, dict):
                continue
            for key in ("blocks", "then", "else"):
                if isinstance(block.get(key), list) and block.get(key):
                    if depth + 1 > MAX_DEPTH:
                        problems.append(
                            Problem(f"{path}.{i}.{key}", f"Blocks nest at most {MAX_DEPTH} deep.")
                        )
                    else:
                        stack.append((block[key], f"{path}.{i}.{key}", depth + 1))
    if count > MAX_BLOCKS:
        problems.append(
            Problem("blocks", f"The template has {count} blocks; at most {MAX_BLOCKS}.")
        )
    return problems


def _pydantic_problems(error: ValidationError) -> list[Problem]:
    out = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"]]
        # A discriminated union puts the block kind in the location (blocks.0.ask_model.prompt): drop it.
        loc = [p for p in loc if p not in _KINDS and not p.startswith("function-")]
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "union_tag_invalid":
            message = f"Unknown block kind; use one of: {', '.join(sorted(_KINDS))}."
        elif item["type"] == "union_tag_not_found":
            message = "Each block needs a kind."
        elif (
            item["type"] == "string_pattern_mismatch"
            and loc
            and loc[-1] in ("id", "name", "as", "on_changes", "collect")
        ):
            message = "Use lower-case letters, digits and _ (starting with a letter), at most 40 characters."
        out.append(Problem(".".join(loc), message))
    return out


_KINDS = {"ask_model", "review", "ask_person", "wait", "for_each", "if", "document", "send"}
TEXT_FIELDS = {
    "ask_model": ("prompt", "system"),
    "review": ("content", "note"),
    "ask_person": ("message",),
    "document": ("doc_title", "markdown"),
    "send": ("subject", "body"),
}


def _root(path: str) -> str:
    return path.split(".", 1)[0]


@lru_cache(maxsize=8192)
def template_names(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(top-level names, `inputs.X` names) a Jinja text reads; raises TemplateSyntaxError. Cached by text:
    the editor validates the whole document on every edit, and only the edited field is new."""
    assigned, loaded, inputs = set(), set(), set()
    for node in ENV.parse(text).find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Name):
            (assigned if node.ctx in ("store", "param") else loaded).add(node.name)
        elif isinstance(node.node, nodes.Name) and node.node.name == "inputs":
            if isinstance(node, nodes.Getattr):
                inputs.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                inputs.add(node.arg.value)
    return frozenset(loaded - assigned - set(ENV.globals) - {"loop"}), frozenset(inputs)


def _walk(
    blocks: list,
    path: str,
    scope: dict[str, str],
    visit: Callable[[Any, str, dict[str, str]], None],
) -> dict[str, str]:
    """Visits every block with the names in scope at it; returns the names the list adds for what follows."""
    added: dict[str, str] = {}
    # A review's output is usable from its jump-back target on (later rounds carry its feedback).
    ahead: dict[int, dict[str, str]] = {}
    ids = [b.id for b in blocks]
    for i, block in enumerate(blocks):
        if isinstance(block, Review) and block.on_changes in ids[:i]:
            start = ids.index(block.on_changes)
            for j in range(start, i):
                ahead.setdefault(j, {})[block.id] = (
                    f"{block.title or block.id}: review decision and feedback"
                )
                # A later round may read what the blocks it repeats answered last time (empty the first time).
                for k in range(j, i):
                    ahead[j].setdefault(
                        ids[k], f"{_output_label(blocks[k])} (the previous round's)"
                    )
    for i, block in enumerate(blocks):
        here = {**scope, **added, **ahead.get(i, {})}
        visit(block, f"{path}.{i}", here)
        if isinstance(block, ForEach):
            inner = {**here, block.as_: f"the current item of {block.items}"}
            _walk(block.blocks, f"{path}.{i}.blocks", inner, visit)
        elif isinstance(block, If):
            added.update(_walk(block.then, f"{path}.{i}.then", here, visit))
            added.update(_walk(block.else_, f"{path}.{i}.else", here, visit))
        added[block.id] = _output_label(block)
    return added


def _output_label(block: Any) -> str:
    what = {
        "ask_model": "the model's answer",
        "review": "review decision and feedback",
        "ask_person": "the person's answers",
        "wait": "when the wait ended",
        "for_each": "a list, one per item",
        "if": "which branch ran",
        "document": "the document (title, markdown)",
        "send": "whether it was sent",
    }
    return f"{block.title or block.id}: {what[block.kind]}"


def _base_scope(template: Template) -> dict[str, str]:
    scope = {f"inputs.{f.name}": f.label for f in template.inputs}
    scope.update({"run.date": "today's date", "run.title": "the run's title"})
    return scope


def _in_scope(path: str, scope: dict[str, str], input_names: set[str]) -> bool:
    root = _root(path)
    if root == "inputs":
        parts = path.split(".")
        return len(parts) == 1 or parts[1] in input_names
    return root == "run" or root in scope


def validate_document(
    doc: Any,
    *,
    connector_exists: Callable[[str], bool] | None = None,
    team: bool | None = None,
) -> list[Problem]:
    """Every problem with a template document, each at its path; [] means it may be saved and run.
    `connector_exists(name)` answers whether the saving user has that connector (None: not checked);
    `team` whether the template belongs to a team (a role assignment needs one; None: not checked)."""
    problems = _raw_shape_problems(doc)
    if problems:
        return problems
    try:
        template = Template.model_validate(doc)
    except ValidationError as error:
        return _pydantic_problems(error)
    input_names = {f.name for f in template.inputs}
    seen: dict[str, str] = {}
    for i, field in enumerate(template.inputs):
        if field.name in seen:
            problems.append(
                Problem(f"inputs.{i}.name", f"Another input is already called {field.name}.")
            )
        seen[field.name] = f"inputs.{i}"
        if field.kind == "choice" and not field.choices:
            problems.append(Problem(f"inputs.{i}.choices", "A choice needs at least one option."))
    ids: dict[str, str] = {}

    def visit(block: Any, path: str, scope: dict[str, str]) -> None:
        if block.id in RESERVED_NAMES:
            problems.append(
                Problem(f"{path}.id", f"“{block.id}” is a reserved name; choose another id.")
            )
        elif block.id in ids:
            problems.append(
                Problem(
                    f"{path}.id", f"Another block ({ids[block.id]}) already has the id {block.id}."
                )
            )
        ids.setdefault(block.id, path)
        for field in TEXT_FIELDS.get(block.kind, ()):
            text = getattr(block, "title_text" if field == "doc_title" else field)
            if not text:
                continue
            try:
                names, inputs = template_names(text)
            except TemplateSyntaxError as error:
                problems.append(
                    Problem(
                        f"{path}.{field}", f"Template error on line {error.lineno}: {error.message}"
                    )
                )
                continue
            for name in sorted(names):
                if name not in scope and name not in ("inputs", "run"):
                    problems.append(
                        Problem(
                            f"{path}.{field}",
                            f"Unknown variable “{name}” (not an input or an earlier block).",
                        )
                    )
            for name in sorted(inputs - input_names):
                problems.append(Problem(f"{path}.{field}", f"Unknown input “inputs.{name}”."))
        if (
            isinstance(block, If)
            and isinstance(block.condition.value, str)
            and "{" in block.condition.value
        ):
            try:
                names, inputs = template_names(block.condition.value)
                for name in sorted(n for n in names - {"inputs", "run"} if n not in scope):
                    problems.append(
                        Problem(f"{path}.condition.value", f"Unknown variable “{name}”.")
                    )
                for name in sorted(inputs - input_names):
                    problems.append(
                        Problem(f"{path}.condition.value", f"Unknown input “inputs.{name}”.")
                    )
            except TemplateSyntaxError as error:
                problems.append(
                    Problem(f"{path}.condition.value", f"Template error: {error.message}")
                )
        for field, var in (
            ("items", getattr(block, "items", None)),
            ("until", getattr(block, "until", None)),
            ("condition.var", block.condition.var if isinstance(block, If) else None),
        ):
            if var and not _in_scope(var, scope, input_names):
                problems.append(
                    Problem(
                        f"{path}.{field}",
                        f"Unknown variable “{var}” (not an input or an earlier block).",
                    )
                )
        _check_block(block, path, problems, connector_exists)
        if team is False and getattr(block, "assign_role", None):
            problems.append(
                Problem(
                    f"{path}.assign_role",
                    "Only a team's template can assign a review to a role: this one is personal.",
                )
            )

    _walk(template.blocks, "blocks", _base_scope(template), visit)
    _check_jumps(template.blocks, "blocks", problems)
    return problems


def _check_block(block: Any, path: str, problems: list[Problem], connector_exists) -> None:
    if isinstance(block, Wait) and (block.duration is None) == (block.until is None):
        problems.append(
            Problem(f"{path}.duration", "Give either a duration or a date-time to wait until.")
        )
    if isinstance(block, ForEach):
        nested = {b.id for b in block.blocks}
        if block.collect and block.collect not in nested:
            problems.append(
                Problem(f"{path}.collect", f"No block “{block.collect}” inside this for_each.")
            )
    if (
        isinstance(block, If)
        and block.condition.op not in ("is_empty",)
        and block.condition.value is None
    ):
        problems.append(
            Problem(f"{path}.condition.value", "This condition needs a value to compare with.")
        )
    if (
        isinstance(block, Review | AskPerson)
        and block.assignee
        and not _looks_like_email(block.assignee)
    ):
        problems.append(
            Problem(f"{path}.assignee", "Enter a valid email address, like name@example.com.")
        )
    if isinstance(block, Review | AskPerson) and block.assignee and block.assign_role:
        problems.append(
            Problem(f"{path}.assign_role", "Assign to a person or to a role, not both.")
        )
    if isinstance(block, Review) and block.required > 1 and not block.assign_role:
        problems.append(
            Problem(
                f"{path}.required",
                "Several approvals come from a role of the team: choose one (assign_role).",
            )
        )
    if isinstance(block, Send):
        if block.channel == "email" and block.to != "owner" and not _looks_like_email(block.to):
            problems.append(Problem(f"{path}.to", "Write “owner” or an email address."))
        if block.channel == "publish":
            if not block.connector:
                problems.append(
                    Problem(f"{path}.connector", "Choose the connector to publish through.")
                )
            elif connector_exists is not None and not connector_exists(block.connector):
                problems.append(
                    Problem(
                        f"{path}.connector", f"You have no connector named “{block.connector}”."
                    )
                )
        if block.channel == "webhook" and not (
            block.url and re.match(r"^https?://[^\s/]+", block.url)
        ):
            problems.append(Problem(f"{path}.url", "Give the http(s) URL to send the webhook to."))


def _check_jumps(blocks: list, path: str, problems: list[Problem]) -> None:
    ids = [b.id for b in blocks]
    for i, block in enumerate(blocks):
        if isinstance(block, Review) and block.on_changes:
            if block.on_changes not in ids[:i]:
                problems.append(
                    Problem(
                        f"{path}.{i}.on_changes",
                        "Jump back to an earlier block in the same list as this review.",
                    )
                )
            if block.max_rounds is None:
                problems.append(
                    Problem(
                        f"{path}.{i}.max_rounds",
                        "A review that jumps back needs a limit on rounds (it could loop forever).",
                    )
                )
        for key, attr in (("blocks", "blocks"), ("then", "then"), ("else", "else_")):
            if hasattr(block, attr):
                _check_jumps(getattr(block, attr), f"{path}.{i}.{key}", problems)


def _looks_like_email(text: str) -> bool:
    return bool(re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", text.strip()))


def variables_in_scope(template: Template, block_id: str | None = None) -> list[Variable]:
    """What a block may use ({{ name }}), for the builder's variable picker. `block_id=None`: at the end
    of the template. Unknown block ids answer the inputs only."""
    found: dict[str, str] = {}

    def visit(block: Any, path: str, scope: dict[str, str]) -> None:
        if block.id == block_id and not found:
            found.update(scope)

    end = _walk(template.blocks, "blocks", _base_scope(template), visit)
    if block_id is None:
        found = {**_base_scope(template), **end}
    elif not found:
        found = _base_scope(template)
    return [Variable(name, label) for name, label in found.items()]


def iter_blocks(blocks: Iterable[Any]) -> Iterable[Any]:
    """Every block, nested ones included, in document order."""
    for block in blocks:
        yield block
        for attr in ("blocks", "then", "else_"):
            yield from iter_blocks(getattr(block, attr, None) or [])
