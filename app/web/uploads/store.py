"""SQL of the file workflows' pages: a run's waiting hook of one kind, a step's journaled output,
the report page and its charts. Deciding checks the run's owner; reading (the report, a chart)
checks the run's space, so every member reads a team's files, and the run's starter reads them
from any space while still a member of the run's (elsewhere None: answer 404)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

WAITING_HOOK = """
SELECT h.id, h.token, h.name, h.actions, h.show FROM hooks h JOIN runs r ON r.id = h.run_id
WHERE h.run_id = %(run_id)s AND r.status = 'waiting' AND h.status = 'waiting'
  AND h.show->>'form' = %(form)s
ORDER BY h.seq DESC LIMIT 1
"""
STEP_OUTPUT = """
SELECT output FROM run_steps WHERE run_id = %(run_id)s AND name = %(name)s AND status = 'completed'
"""
REPORT_HTML = """
SELECT a.data FROM artifacts a JOIN runs r ON r.id = a.run_id
WHERE a.run_id = %(run_id)s AND a.role = 'output' AND a.content_type LIKE 'text/html%%'
  AND (r.space_id = %(space_id)s
       OR (r.owner_id = %(user_id)s AND EXISTS (SELECT 1 FROM space_members m
                                               WHERE m.space_id = r.space_id AND m.user_id = %(user_id)s)))
ORDER BY a.created_at DESC LIMIT 1
"""
SPACE_FILE = """
SELECT a.name, a.content_type, a.data FROM artifacts a JOIN runs r ON r.id = a.run_id
WHERE a.id = %(id)s
  AND (r.space_id = %(space_id)s
       OR (r.owner_id = %(user_id)s AND EXISTS (SELECT 1 FROM space_members m
                                               WHERE m.space_id = r.space_id AND m.user_id = %(user_id)s)))
"""


async def waiting_hook(conn: AsyncConnection, run_id: UUID, form: str) -> dict | None:
    """The run's waiting hook of this form; the caller has found the run for the person
    (app/web/runs/access.py) and checks who may decide it (app/engine/hooks.py `refusal`)."""
    return await (await conn.execute(WAITING_HOOK, {"run_id": run_id, "form": form})).fetchone()


async def step_output(conn: AsyncConnection, run_id: UUID, name: str) -> Any:
    row = await (await conn.execute(STEP_OUTPUT, {"run_id": run_id, "name": name})).fetchone()
    return row["output"] if row else None


async def report_html(
    conn: AsyncConnection, run_id: UUID, space_id: int, user_id: int
) -> dict | None:
    return await (
        await conn.execute(
            REPORT_HTML, {"run_id": run_id, "space_id": space_id, "user_id": user_id}
        )
    ).fetchone()


async def space_file(
    conn: AsyncConnection, artifact_id: UUID, space_id: int, user_id: int
) -> dict | None:
    """A file of one of the space's runs (a chart the report shows), or of a run the user started
    while still a member of its space (its card is in their chat)."""
    return await (
        await conn.execute(
            SPACE_FILE, {"id": artifact_id, "space_id": space_id, "user_id": user_id}
        )
    ).fetchone()
