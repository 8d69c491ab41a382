"""A run's files come only from its owner's own uploads (app/steps/run_files.attach_uploads): the id
of another user's upload attaches nothing, not even the starter's own files given with it, and
says why; the other user's upload stays theirs and unused."""

from __future__ import annotations

import pytest

from app.engine import commands
from app.engine.errors import InputInvalid
from app.steps.run_files import attach_uploads, store_uploads
from tests.support.web import make_user


async def upload(pool, owner_id: int, name: str) -> str:
    async with pool.connection() as conn:
        [artifact_id] = await store_uploads(
            conn, owner_id, [{"name": name, "content_type": "text/plain", "data": b"hello"}]
        )
    return artifact_id


async def files_of(pool, ids: list[str]) -> dict[str, tuple]:
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT id::text, owner_id, run_id FROM artifacts WHERE id::text = ANY(%s)", (ids,)
            )
        ).fetchall()
    return {r["id"]: (r["owner_id"], r["run_id"]) for r in rows}


async def test_another_users_upload_attaches_nothing_and_says_why(pool):
    ana, bob = await make_user(pool), await make_user(pool)
    anas = await upload(pool, ana.id, "input/01-ana.txt")
    bobs = await upload(pool, bob.id, "input/01-bob.txt")

    async with pool.connection() as conn:
        run, _ = await commands.start_run(
            conn, owner_id=bob.id, workflow="selftest", input={"steps": 1}
        )
        with pytest.raises(InputInvalid) as refused:
            await attach_uploads(conn, [bobs, anas], run.id)
    assert refused.value.errors == [
        {"field": "input", "message": "A file is not one of your new uploads."}
    ]
    assert await files_of(pool, [anas, bobs]) == {anas: (ana.id, None), bobs: (bob.id, None)}

    # The owner's own upload attaches as before.
    async with pool.connection() as conn:
        await attach_uploads(conn, [bobs], run.id)
    assert await files_of(pool, [bobs]) == {bobs: (bob.id, run.id)}
    # Once used by a run, an upload is not attached to another.
    async with pool.connection() as conn:
        again, _ = await commands.start_run(
            conn, owner_id=bob.id, workflow="selftest", input={"steps": 1}
        )
        with pytest.raises(InputInvalid):
            await attach_uploads(conn, [bobs], again.id)
    assert await files_of(pool, [bobs]) == {bobs: (bob.id, run.id)}
