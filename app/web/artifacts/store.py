"""Reading artifacts (files a run produced). Writes happen in the run: app/steps/artifacts.py."""

from __future__ import annotations

from uuid import UUID

from psycopg import AsyncConnection

FOR_RUN = """
SELECT id, name, content_type, size, created_at FROM artifacts
WHERE run_id = %(run_id)s AND owner_id = %(owner_id)s AND role = 'output' ORDER BY name
"""
DOWNLOAD = """
SELECT id, name, content_type, size, data FROM artifacts WHERE id = %(id)s AND owner_id = %(owner_id)s
"""


async def for_run(conn: AsyncConnection, run_id, owner_id: int) -> list[dict]:
    return await (await conn.execute(FOR_RUN, {"run_id": run_id, "owner_id": owner_id})).fetchall()


async def get_for_download(conn: AsyncConnection, artifact_id: UUID, owner_id: int) -> dict | None:
    """The file, only for its owner (anyone else gets None: answer 404)."""
    return await (await conn.execute(DOWNLOAD, {"id": artifact_id, "owner_id": owner_id})).fetchone()
