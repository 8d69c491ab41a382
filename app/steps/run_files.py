"""A run's files in the `artifacts` table: uploads it works on, data its steps hand each other, and
what it produced. Big data stays here; the journal holds only the ids.

    ids = await store_uploads(conn, owner_id, files)        # web: before the run exists (run_id NULL)
    await attach_uploads(conn, ids, run_id)                  # same transaction as start_run
    data = await read_bytes(artifact_id, owner_id=..., run_id=...)     # inside a step or a map child
    new_id = await write_bytes(owner_id=..., run_id=..., name=..., content_type=..., data=..., role=...)

Writes are upserts on (run_id, name), so a step body that runs twice (a worker died mid-step)
stores its file once. Step bodies reach the database through their worker's pool
(`app.core.queue.worker_pool`): they run inside a worker job, never with the run's connection.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.core.queue import worker_pool
from app.engine.errors import FatalError, InputInvalid

ROLES = ("output", "input", "internal")

INSERT_UPLOAD = """
INSERT INTO artifacts (owner_id, run_id, name, content_type, size, data, role)
VALUES (%(owner_id)s, NULL, %(name)s, %(content_type)s, %(size)s, %(data)s, 'input')
RETURNING id
"""
# Only the run's owner's own uploads, not yet used by a run: an id of someone else's upload (or of
# another run's file) attaches nothing.
ATTACH = """
UPDATE artifacts a SET run_id = r.id FROM runs r
WHERE r.id = %(run_id)s AND a.id = ANY(%(ids)s) AND a.owner_id = r.owner_id AND a.run_id IS NULL
RETURNING a.id
"""
UPSERT = """
INSERT INTO artifacts (owner_id, run_id, name, content_type, size, data, role)
VALUES (%(owner_id)s, %(run_id)s, %(name)s, %(content_type)s, %(size)s, %(data)s, %(role)s)
ON CONFLICT (run_id, name) DO UPDATE SET content_type = EXCLUDED.content_type, size = EXCLUDED.size,
                                         data = EXCLUDED.data, role = EXCLUDED.role, created_at = now()
RETURNING id
"""
# A run reads only its own owner's files, and only those attached to it.
READ = """
SELECT data FROM artifacts WHERE id = %(id)s AND owner_id = %(owner_id)s AND run_id = %(run_id)s
"""
# Inline views of a run's images and report (app/web/uploads): the owner's, of one run.
READ_FOR_VIEW = """
SELECT a.id, a.name, a.content_type, a.role, a.data FROM artifacts a
WHERE a.id = %(id)s AND a.owner_id = %(owner_id)s
"""
FIND_BY_NAME = """
SELECT id, name, content_type, size, role FROM artifacts
WHERE run_id = %(run_id)s AND owner_id = %(owner_id)s AND name = %(name)s
"""


def pool() -> AsyncConnectionPool:
    current = worker_pool.get()
    if current is None:
        raise RuntimeError("run files are read inside a worker job (no worker pool here)")
    return current


async def store_uploads(
    conn: AsyncConnection, owner_id: int, files: list[dict[str, Any]]
) -> list[str]:
    """Each {name, content_type, data} as an input artifact not yet attached to a run."""
    ids = []
    for f in files:
        row = await (
            await conn.execute(
                INSERT_UPLOAD,
                {
                    "owner_id": owner_id,
                    "name": f["name"],
                    "content_type": f["content_type"],
                    "size": len(f["data"]),
                    "data": f["data"],
                },
            )
        ).fetchone()
        ids.append(str(row["id"]))
    return ids


async def attach_uploads(conn: AsyncConnection, ids: list[str], run_id: Any) -> None:
    """Attach the uploads `ids` to the run: all of them, or none and InputInvalid when one is not an
    unused upload of the run's owner (another user's id, or a file already used by a run)."""
    async with conn.transaction():  # a savepoint in the caller's: undone whole on a refusal
        attached = await (
            await conn.execute(ATTACH, {"ids": [UUID(i) for i in ids], "run_id": run_id})
        ).fetchall()
        if len(attached) != len(set(ids)):
            raise InputInvalid(
                [{"field": "input", "message": "A file is not one of your new uploads."}]
            )


async def read_bytes(artifact_id: str, *, owner_id: int, run_id: str) -> bytes:
    async with pool().connection() as conn:
        row = await (
            await conn.execute(READ, {"id": artifact_id, "owner_id": owner_id, "run_id": run_id})
        ).fetchone()
    if row is None:
        raise FatalError("A file of this run is missing (deleted, or not this run's).")
    return bytes(row["data"])


async def write_bytes(
    *, owner_id: int, run_id: str, name: str, content_type: str, data: bytes, role: str = "internal"
) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown artifact role {role!r}")
    async with pool().connection() as conn:
        row = await (
            await conn.execute(
                UPSERT,
                {
                    "owner_id": owner_id,
                    "run_id": run_id,
                    "name": name,
                    "content_type": content_type,
                    "size": len(data),
                    "data": data,
                    "role": role,
                },
            )
        ).fetchone()
    return str(row["id"])


async def read_for_view(conn: AsyncConnection, artifact_id: UUID, owner_id: int) -> dict | None:
    """A file for its owner (None for anyone else: answer 404)."""
    return await (
        await conn.execute(READ_FOR_VIEW, {"id": artifact_id, "owner_id": owner_id})
    ).fetchone()
