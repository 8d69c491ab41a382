"""Workflows in a conversation: the slash commands that start them, and the run cards shown
between its messages. The picker and the cards' own routes are the runs' (app/web/runs/in_chat.py).
"""

from __future__ import annotations

import re

from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.response import Template
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.engine.errors import RunNotFound
from app.engine.registry import catalog
from app.web.chat import store
from app.web.htmx import is_htmx, navigate
from app.web.runs import start
from app.web.runs.cards import load_card
from app.workflows.catalog import SLASH_COMMANDS

CHAT_RUNS_LIMIT = 50

# Slash commands: the command, the workflow it starts, the input field its text fills.
COMMANDS = SLASH_COMMANDS  # /<command> -> (workflow, its input field); /help is answered here
TEMPLATE_SLUG = re.compile(
    r"^[a-z0-9][a-z0-9-]{0,59}$"
)  # /<slug> of a saved template (app/templates)

CHAT_RUNS = """
SELECT r.id, (SELECT max(m.id) FROM messages m
              WHERE m.conversation_id = r.chat_id AND m.created_at <= r.created_at) AS after_message_id
FROM runs r WHERE r.chat_id = %(chat_id)s AND r.owner_id = %(owner_id)s
  -- a run of a team the user has left is no longer theirs to see
  AND EXISTS (SELECT 1 FROM space_members m WHERE m.space_id = r.space_id AND m.user_id = %(owner_id)s)
ORDER BY r.created_at DESC LIMIT %(limit)s
"""


async def chat_runs(
    conn: AsyncConnection, conversation_id: int, owner_id: int, shown_message_ids: list[int]
) -> dict[int | None, list[dict]]:
    """The conversation's run cards by the message they follow (None: before the first shown)."""
    rows = await (
        await conn.execute(
            CHAT_RUNS, {"chat_id": conversation_id, "owner_id": owner_id, "limit": CHAT_RUNS_LIMIT}
        )
    ).fetchall()
    shown = set(shown_message_ids)
    placed: dict[int | None, list[dict]] = {}
    for row in reversed(rows):
        anchor = row["after_message_id"] if row["after_message_id"] in shown else None
        try:
            placed.setdefault(anchor, []).append(await load_card(conn, row["id"], owner_id))
        except RunNotFound:  # deleted meanwhile
            continue
    return placed


# -- slash commands ----------------------------------------------------------------------------


class CommandError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def is_command(text: str) -> bool:
    return text.startswith("/") and text.split(maxsplit=1)[0].lower() in (*COMMANDS, "/help")


async def template_command(
    pool: AsyncConnectionPool, user_id: int, text: str, space_id: int | None = None
) -> start.TemplateChoice | None:
    """`/<slug> …` naming a saved template the user may run in `space_id` (the space's first, then
    the gallery's); None for anything else, which goes to the model as a message."""
    if not text.startswith("/") or is_command(text):
        return None
    slug = text.split(maxsplit=1)[0][1:].lower()
    if not TEMPLATE_SLUG.match(slug):
        return None
    async with pool.connection() as conn:
        return await start.choose_template(conn, user_id, slug=slug, space_id=space_id)


def _template_input(choice: start.TemplateChoice, rest: str) -> dict:
    """The text after the command fills the template's first text input."""
    first = next(
        (f.name for f in choice.document.inputs if f.kind in ("short_text", "long_text")), None
    )
    return {first: rest} if first and rest else {}


async def run_command(
    request: Request,
    pool: AsyncConnectionPool,
    conversation_id: int | None,
    text: str,
    template: start.TemplateChoice | None = None,
) -> Response:
    """`/help`, `/report <prompt>`, `/team <topic>`, `/<template slug> <text>` (with `template`).
    Raises CommandError with a message for the composer (unknown input, quota); the caller shows it
    like any composer error."""
    command, _, rest = text.partition(" ")
    command, rest = command.lower(), rest.strip()
    if command == "/help":
        return Template(
            "partials/chat/help.html", context={"workflows": catalog(), "commands": COMMANDS}
        )
    if template is not None:
        target = {"template": template, "input": _template_input(template, rest)}
    else:
        workflow, field = COMMANDS[command]
        if not rest:
            raise CommandError(
                f"Write what it is about after {command}, e.g. “{command} the state of solar power”."
            )
        target = {"workflow": workflow, "input": {field: rest}}
    user = request.user
    async with pool.connection() as conn:
        outcome = await start.start_run(
            conn,
            **target,
            user_id=user.id,
            chat=start.InChat(conversation_id, note=text),
            space_id=user.space.id,  # the chat is the user's; the run, the current space's
        )
        if isinstance(outcome, start.Refused):
            if outcome.reason in ("no_chat", "no_workflow"):
                raise NotFoundException()
            if outcome.reason == "invalid_input":
                field, message = next(iter(outcome.fields.items()))
                if template is not None:
                    label = next(
                        (f.label for f in template.document.inputs if f.name == field), field
                    )
                    raise CommandError(
                        f"{command}: {label}: {message} (or start it from the Workflows picker)"
                    )
                raise CommandError(f"{command}: {message}")
            raise CommandError(outcome.message)
        if conversation_id is None or not is_htmx(request):
            return navigate(request, f"/chat/{outcome.conversation_id}")
        card = await load_card(conn, outcome.run_id, user.id)
        note = await store.get_message(conn, user.id, outcome.conversation_id, outcome.note_id)
    return Template(
        "partials/chat/run_started.html",
        context={"card": card, "note": note, "conversation_id": outcome.conversation_id},
    )
