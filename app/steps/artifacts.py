"""Storing what a run produced: documents as Markdown and as PDF, in the `artifacts` table.

Call from `run.transaction(...)`, so the files are stored exactly once, with their journal entry:

    ids = await run.transaction("publish", lambda conn: save_document(
        conn, owner_id=run.owner_id, run_id=run.id, title=title, markdown=text, ...))

Reading and downloading are app/web/runs/files.py.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from app.core.markdown import render_markdown
from app.core.pdf import render_pdf

INSERT_ARTIFACT = """
INSERT INTO artifacts (owner_id, run_id, name, content_type, size, data)
VALUES (%(owner_id)s, %(run_id)s, %(name)s, %(content_type)s, %(size)s, %(data)s)
ON CONFLICT (run_id, name) DO UPDATE SET content_type = EXCLUDED.content_type, size = EXCLUDED.size,
                                         data = EXCLUDED.data, created_at = now()
RETURNING id
"""


def file_stem(title: str) -> str:
    """A safe, readable file name from a title: letters, digits and dashes only."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:80].strip("-")
    return stem or "document"


async def save_artifact(
    conn: AsyncConnection, *, owner_id: int, run_id: Any, name: str, content_type: str, data: bytes
) -> str:
    row = await (
        await conn.execute(
            INSERT_ARTIFACT,
            {
                "owner_id": owner_id,
                "run_id": run_id,
                "name": name,
                "content_type": content_type,
                "size": len(data),
                "data": data,
            },
        )
    ).fetchone()
    return str(row["id"])


async def save_document(
    conn: AsyncConnection,
    *,
    owner_id: int,
    run_id: Any,
    title: str,
    markdown: str,
    when: datetime,
    workflow_title: str,
    subtitle: str = "",
) -> dict[str, str]:
    """The document as Markdown and as a PDF (title, date, content, the AI-assistance footer).
    Returns the artifact ids by format."""
    pdf = await asyncio.to_thread(
        render_pdf,
        "document.html",
        title=title,
        date=when.strftime("%-d %B %Y"),
        subtitle=subtitle,
        body_html=render_markdown(markdown, top=2, title=title),
        workflow_title=workflow_title,
    )
    stem = file_stem(title)
    return {
        "markdown": await save_artifact(
            conn,
            owner_id=owner_id,
            run_id=run_id,
            name=f"{stem}.md",
            content_type="text/markdown; charset=utf-8",
            data=markdown.encode(),
        ),
        "pdf": await save_artifact(
            conn,
            owner_id=owner_id,
            run_id=run_id,
            name=f"{stem}.pdf",
            content_type="application/pdf",
            data=pdf,
        ),
    }
