"""Downloading artifacts (files a run produced). Writes happen in the run (app/steps/artifacts.py);
the list of a run's files is part of the run's views (app/web/runs/store.py `run_artifacts`)."""

from __future__ import annotations

from uuid import UUID

from psycopg import AsyncConnection

# The first download is remembered: the first-run checklist (app/web/onboarding) ticks "download the PDF".
DOWNLOAD = """
WITH first AS (
    UPDATE artifacts SET first_downloaded_at = now()
    WHERE id = %(id)s AND owner_id = %(owner_id)s AND first_downloaded_at IS NULL
)
SELECT id, run_id, name, content_type, size, data FROM artifacts WHERE id = %(id)s AND owner_id = %(owner_id)s
"""


async def get_for_download(conn: AsyncConnection, artifact_id: UUID, owner_id: int) -> dict | None:
    """The file, only for its owner (anyone else gets None: answer 404)."""
    return await (await conn.execute(DOWNLOAD, {"id": artifact_id, "owner_id": owner_id})).fetchone()
