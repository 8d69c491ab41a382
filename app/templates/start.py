"""Starting a template run, for callers outside the web (the CLI, schedules): resolve the template the
user may see, then the engine's one start command with the version's input model, so the input is
checked, the quota counted and the run queued exactly as for a built-in workflow. The web calls
app/web/runs/start.py `start_run(..., template=TemplateChoice)`, which takes the same path.

    run, created = await start_template_run(conn, user_id=7, slug="reviewed-report", input={"topic": "…"})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel

from app.engine import commands
from app.engine.errors import InputInvalid
from app.engine.rows import StartedRun
from app.templates import store
from app.templates.format import Template, parse
from app.templates.inputs import file_ids, input_model
from app.templates.interpreter import TEMPLATE_WORKFLOW, journal_load


@dataclass(frozen=True)
class TemplateChoice:
    """A template version chosen for a run: what the start path needs to check and record it."""

    template_id: int | None  # None: a test run of a template never saved
    version: int | None  # None: a test run of the editor's draft (`draft` is what it runs)
    slug: str
    document: Template
    space_id: int | None = None  # the space the run starts in (None: the starter's personal space)
    draft: dict | None = None

    @property
    def title(self) -> str:
        return self.document.title

    def input_model(self) -> type[BaseModel]:
        return input_model(self.document.inputs)

    def run_title(self, values: dict[str, Any]) -> str:
        first = next(
            (
                str(values[f.name])
                for f in self.document.inputs
                if f.kind in ("short_text", "long_text") and values.get(f.name)
            ),
            "",
        )
        return (
            f"{self.document.title}: {' '.join(first.split())}"[:200]
            if first
            else self.document.title
        )


async def choose(
    conn: AsyncConnection,
    *,
    user_id: int | None,
    slug: str | None = None,
    template_id: int | None = None,
    space_id: int | None = None,
) -> TemplateChoice:
    """The current version of a template the user may run in the space (the space's, the gallery's,
    a shared one); its run starts in that space. TemplateNotFound otherwise."""
    row = await store.get_template(
        conn, user_id=user_id, slug=slug, template_id=template_id, space_id=space_id
    )
    document = await store.get_document(conn, row)
    return TemplateChoice(row["id"], row["current_version"], row["slug"], parse(document), space_id)


async def start_template_run(
    conn: AsyncConnection,
    *,
    user_id: int,
    input: dict[str, Any],
    slug: str | None = None,
    template: TemplateChoice | None = None,
    chat_id: int | None = None,
    idempotency_key: str | None = None,
    title: str | None = None,
    space_id: int | None = None,
) -> tuple[StartedRun, bool]:
    """Start a run of a template through the engine's start command, in `space_id` (else the space
    the template was chosen in, else the personal one). Raises TemplateNotFound, InputInvalid
    (per-field errors against the template's inputs), QuotaExceeded or policy.Forbidden."""
    chosen = template or await choose(conn, user_id=user_id, slug=slug, space_id=space_id)
    if space_id is None:
        space_id = chosen.space_id
    async with conn.transaction():
        run, created = await commands.start_run(
            conn,
            owner_id=user_id,
            workflow=TEMPLATE_WORKFLOW,
            input=input,
            chat_id=chat_id,
            idempotency_key=idempotency_key,
            title=title or chosen.run_title(input),
            input_model=chosen.input_model(),
            template_id=chosen.template_id,
            template_version=chosen.version,
            space_id=space_id,
        )
        if created and chosen.draft is not None:
            await store.put_test_run(
                conn, run_id=run.id, template_id=chosen.template_id, document=chosen.draft
            )
        if created:
            await journal_load(conn, run)
        ids = file_ids(chosen.document.inputs, run.input)
        if (
            created
            and ids
            and await store.attach_uploads(conn, owner_id=user_id, run_id=run.id, ids=ids)
            != len(ids)
        ):
            raise InputInvalid(
                [{"field": "input", "message": "A file is not one of your new uploads."}]
            )
    return run, created
