"""The model proposing a workflow: the `propose_workflow` tool offered with every chat reply, the
proposal kept on the reply (`messages.proposal`), and the user's Start / Dismiss.

Nothing starts until the user confirms. Start locks the reply's row, so a double click (or two
tabs) starts one run: the second sees the proposal already started.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

from litestar import Request, Response, Router, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from app.core.llm import Completion
from app.core.sql_queries import load_queries
from app.engine.errors import WorkflowNotFound
from app.engine.registry import catalog, get_workflow
from app.templates.format import Template as TemplateDocument
from app.templates.format import parse
from app.templates.inputs import input_model
from app.web.auth import requires_login
from app.web.chat import store
from app.web.runs.cards import load_card
from app.web.runs.start import Refused, TemplateChoice, choose_template, start_run

log = logging.getLogger("baton.chat")

TOOL_NAME = "propose_workflow"


TEMPLATE_PREFIX = "template:"  # a saved template offered as `template:<slug>`
PROPOSED_TEMPLATES = 20
# Parsed documents kept per process, by a hash of their content: a version's document is parsed and
# its input model built once, not with every reply. Keyed by content, an entry can never answer for
# another document (another database's template with the same id and version, a version rewritten).
PARSED_DOCUMENTS = 256

SQL = load_queries(__file__)
OFFERABLE = SQL["offerable"]
OFFERED_DOCUMENTS = SQL["offered_documents"]


@dataclass(frozen=True)
class Offer:
    """A saved template offered to the model with a reply: the version a confirmed proposal runs,
    and how the tool's description presents it."""

    choice: TemplateChoice
    summary: str  # "(title: description) takes topic, notes (optional)"

    @property
    def slug(self) -> str:
        return self.choice.slug


@dataclass(frozen=True)
class _Parsed:
    document: TemplateDocument
    summary: str


_parsed: OrderedDict[str, _Parsed] = OrderedDict()


def _takes(model) -> str:
    return ", ".join(
        f"{name}{'' if field.is_required() else ' (optional)'}"
        for name, field in model.model_fields.items()
        if not (field.json_schema_extra or {}).get("advanced")
    )


def _remember(key: str, raw: dict) -> _Parsed | None:
    # A version this code no longer reads is not offered; the chat still answers.
    try:
        document = parse(raw)
    except ValidationError:
        log.warning("chat.template_unreadable", extra={"document_key": key})
        return None
    takes = _takes(input_model(document.inputs))
    summary = f"({document.title}: {document.description[:200]}) takes {takes}"
    _parsed[key] = parsed = _Parsed(document, summary)
    while len(_parsed) > PARSED_DOCUMENTS:
        _parsed.popitem(last=False)
    return parsed


async def proposable_templates(conn, user_id: int, space_id: int | None = None) -> list[Offer]:
    """The saved templates the model may offer this user in `space_id` (None: their personal
    space): the space's, then the gallery's. One query when every current version was parsed
    before (the usual case); a second fetches the documents of those that were not."""
    rows = await (
        await conn.execute(
            OFFERABLE, {"user_id": user_id, "space_id": space_id, "limit": PROPOSED_TEMPLATES}
        )
    ).fetchall()
    known = {r["document_key"]: _parsed.get(r["document_key"]) for r in rows}
    if missing := [r for r in rows if known[r["document_key"]] is None]:
        fetched = await (
            await conn.execute(
                OFFERED_DOCUMENTS,
                {"ids": [r["id"] for r in missing], "versions": [r["version"] for r in missing]},
            )
        ).fetchall()
        known |= {r["document_key"]: _remember(r["document_key"], r["document"]) for r in fetched}
    offers = []
    for row in rows:
        # None: unreadable, or rewritten between the two queries (offered with the next reply)
        if (parsed := known.get(row["document_key"])) is not None:
            if row["document_key"] in _parsed:
                _parsed.move_to_end(row["document_key"])
            choice = TemplateChoice(
                row["id"], row["version"], row["slug"], parsed.document, space_id
            )
            offers.append(Offer(choice, parsed.summary))
    return offers


def proposal_tools(templates: list[Offer] = ()) -> list[dict]:
    """The tool the chat model may call to offer a workflow or one of the user's saved templates
    (OpenAI tool format)."""
    workflows = catalog()
    fields = "; ".join(
        [
            f"{wf.name} ({wf.title}: {wf.description}) takes {_takes(wf.input_model)}"
            for wf in workflows
        ]
        + [f"{TEMPLATE_PREFIX}{t.slug} {t.summary}" for t in templates]
    )
    return [
        {
            "type": "function",
            "function": {
                "name": TOOL_NAME,
                "description": (
                    "Offer to start one of Baton's durable workflows when the user asks for work that one does "
                    "better than a single reply, such as a document someone must review and approve, or a "
                    "researched article. The user sees your offer and must confirm; nothing starts until then. "
                    f"Workflows: {fields}."
                ),
                "parameters": {
                    "type": "object",
                    "properties": {
                        "workflow": {
                            "type": "string",
                            "enum": [wf.name for wf in workflows]
                            + [f"{TEMPLATE_PREFIX}{t.slug}" for t in templates],
                        },
                        "input": {
                            "type": "object",
                            "description": 'The workflow\'s input fields, e.g. {"prompt": "..."}.',
                        },
                        "reason": {
                            "type": "string",
                            "description": "One short sentence for the user: why this workflow.",
                        },
                    },
                    "required": ["workflow", "input"],
                },
            },
        }
    ]


def _template_proposal(args: dict, templates: list[Offer]) -> dict | None:
    slug = str(args.get("workflow"))[len(TEMPLATE_PREFIX) :]
    choice = next((t.choice for t in templates if t.slug == slug), None)
    if choice is None or not isinstance(args.get("input"), dict):
        raise ValueError("not one of the user's templates")
    data = choice.input_model().model_validate(args["input"]).model_dump(mode="json")
    return {
        "workflow": f"{TEMPLATE_PREFIX}{slug}",
        "template_id": choice.template_id,
        "workflow_title": choice.title,
        "title": choice.run_title(data)[:120],
        "input": data,
        "reason": str(args.get("reason") or "")[:300],
        "status": "pending",
        "run_id": None,
    }


def proposal_from(completion: Completion | None, templates: list[Offer] = ()) -> dict | None:
    """The first valid `propose_workflow` call of a reply, as stored on the message (or None:
    an unknown workflow or an input the workflow refuses is not offered to the user)."""
    for call in completion.tool_calls if completion else ():
        if call.name != TOOL_NAME:
            continue
        try:
            args = call.parsed_arguments()
            if str(args.get("workflow")).startswith(TEMPLATE_PREFIX):
                return _template_proposal(args, templates)
            wf = get_workflow(str(args.get("workflow")))
            if wf.hidden or not isinstance(args.get("input"), dict):
                raise ValueError("not a user workflow")
            data = wf.input_model.model_validate(args["input"]).model_dump(mode="json")
        except (ValueError, WorkflowNotFound, ValidationError) as exc:
            log.info("chat.proposal_refused", extra={"error": str(exc)[:200]})
            continue
        title = next((str(data[k]) for k in ("title", "prompt", "topic") if data.get(k)), wf.title)
        return {
            "workflow": wf.name,
            "workflow_title": wf.title,
            "title": " ".join(title.split())[:120],
            "input": data,
            "reason": str(args.get("reason") or "")[:300],
            "status": "pending",
            "run_id": None,
        }
    return None


async def _respond(message, *, card=None, error=None, status=200) -> Template:
    return Template(
        "partials/chat/proposal_answer.html",
        status_code=status,
        context={
            "m": message,
            "card": card,
            "error": error,
            "conversation_id": message.conversation_id,
        },
    )


@post("/{message_id:int}/start")
async def start(
    request: Request, pool: NamedDependency[AsyncConnectionPool], message_id: FromPath[int]
) -> Response:
    user = request.user
    async with pool.connection() as conn:
        async with conn.transaction():
            message = await store.lock_proposal(conn, message_id, user.id)
            proposal = message.proposal
            if proposal.get("status") != "pending":
                return await _respond(message, error="This proposal was already answered.")
            if proposal.get(
                "template_id"
            ):  # a saved template: its current version, if still the user's to run
                choice = await choose_template(
                    conn,
                    user.id,
                    template_id=int(proposal["template_id"]),
                    space_id=user.space.id,
                )
                target = {"template": choice} if choice else {"workflow": proposal["workflow"]}
            else:
                target = {"workflow": proposal["workflow"]}
            outcome = await start_run(
                conn,
                **target,
                input=proposal["input"],
                user_id=user.id,
                chat=message.conversation_id,
                title=proposal["title"],
                idempotency_key=f"proposal:{message_id}",
                space_id=user.space.id,  # the chat is the user's; the run, the current space's
            )
            if isinstance(outcome, Refused):
                return await _respond(message, error=outcome.message, status=422)
            message = await store.set_proposal(
                conn, message_id, {**proposal, "status": "started", "run_id": str(outcome.run_id)}
            )
        card = await load_card(conn, outcome.run_id, user.id)
    return await _respond(message, card=card)


@post("/{message_id:int}/dismiss")
async def dismiss(
    request: Request, pool: NamedDependency[AsyncConnectionPool], message_id: FromPath[int]
) -> Response:
    async with pool.connection() as conn, conn.transaction():
        message = await store.lock_proposal(conn, message_id, request.user.id)
        if message.proposal.get("status") != "pending":
            return await _respond(message, error="This proposal was already answered.")
        message = await store.set_proposal(
            conn, message_id, {**message.proposal, "status": "dismissed"}
        )
    return await _respond(message)


router = Router(path="/chat/proposals", guards=[requires_login], route_handlers=[start, dismiss])
