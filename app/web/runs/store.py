"""The runs' reads for the web: a space's runs (every member's; filters, title search, keyset
pages), a run's event log and the files it produced."""

from __future__ import annotations

from psycopg import AsyncConnection

from app.engine.commands import decode_cursor, encode_cursor

USER_RUNS = """
SELECT id, workflow, title, status, waiting_for, wake_at, progress, error, created_at, completed_at,
       steps_done, cost_usd, rerun_of, rerun_from, owner_id,
       (SELECT email FROM users u WHERE u.id = runs.owner_id) AS owner_email
FROM runs
WHERE space_id = %(space_id)s
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(workflow)s::text IS NULL OR workflow = %(workflow)s)
  AND (%(q)s::text IS NULL OR title ILIKE '%%' || %(q)s || '%%')
  AND (%(after_ts)s::timestamptz IS NULL OR (created_at, id) < (%(after_ts)s, %(after_id)s::uuid))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s
"""

# A run of another of the user's spaces: its page offers to switch there instead of "not found".
RUN_SPACE_OF_MEMBER = """
SELECT s.id, s.name FROM runs r
JOIN space_members m ON m.space_id = r.space_id AND m.user_id = %(user_id)s
JOIN spaces s ON s.id = r.space_id
WHERE r.id = %(run_id)s
"""

USER_WORKFLOWS = (
    "SELECT DISTINCT workflow FROM runs WHERE space_id = %(space_id)s ORDER BY workflow"
)

OWNER_WORKFLOWS = (
    "SELECT DISTINCT workflow FROM runs WHERE owner_id = %(owner_id)s ORDER BY workflow"
)

RUN_ARTIFACTS = """
SELECT id, name, content_type, size, created_at FROM artifacts
WHERE run_id = %(run_id)s AND (%(owner_id)s::bigint IS NULL OR owner_id = %(owner_id)s)
  AND role = 'output' ORDER BY name
"""

# Decisions a person can take now (the header's badge): webhooks wait for machines, not people.
COUNT_WAITING = """
SELECT count(*) AS n FROM hooks h
WHERE h.owner_id = %(owner_id)s AND h.status = 'waiting' AND h.kind <> 'webhook'
  AND (h.expires_at IS NULL OR h.expires_at > now())
"""

RUN_EVENTS = """
SELECT id, kind, data, created_at FROM run_events WHERE run_id = %(run_id)s ORDER BY id DESC LIMIT %(limit)s
"""


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def user_runs(
    conn: AsyncConnection,
    space_id: int,
    *,
    status: str | None,
    workflow: str | None,
    q: str | None,
    cursor: str | None,
    limit: int = 25,
) -> tuple[list[dict], str | None]:
    after_ts, after_id = decode_cursor(cursor)
    rows = await (
        await conn.execute(
            USER_RUNS,
            {
                "space_id": space_id,
                "status": status,
                "workflow": workflow,
                "q": _like_escape(q) if q else None,
                "after_ts": after_ts,
                "after_id": after_id,
                "limit": limit + 1,
            },
        )
    ).fetchall()
    return rows[:limit], encode_cursor(rows[limit - 1]) if len(rows) > limit else None


async def user_workflows(conn: AsyncConnection, space_id: int) -> list[str]:
    """The workflows the space's runs ran (the dashboard's filter)."""
    return [
        r["workflow"]
        for r in await (await conn.execute(USER_WORKFLOWS, {"space_id": space_id})).fetchall()
    ]


async def owner_workflows(conn: AsyncConnection, owner_id: int) -> list[str]:
    """The workflows the user's own runs ran (bulk replay selects the user's runs)."""
    return [
        r["workflow"]
        for r in await (await conn.execute(OWNER_WORKFLOWS, {"owner_id": owner_id})).fetchall()
    ]


async def run_events(conn: AsyncConnection, run_id, limit: int = 200) -> list[dict]:
    return await (await conn.execute(RUN_EVENTS, {"run_id": run_id, "limit": limit})).fetchall()


async def run_artifacts(conn: AsyncConnection, run_id, owner_id: int | None = None) -> list[dict]:
    """The files the run produced (its outputs). Call it for a run found in the reader's space
    (every member reads its files: `owner_id` None), or with `owner_id` for its owner only."""
    return await (
        await conn.execute(RUN_ARTIFACTS, {"run_id": run_id, "owner_id": owner_id})
    ).fetchall()


async def count_waiting(conn: AsyncConnection, owner_id: int) -> int:
    """How many of the user's runs wait for their decision."""
    return (await (await conn.execute(COUNT_WAITING, {"owner_id": owner_id})).fetchone())["n"]


async def run_space_of_member(conn: AsyncConnection, run_id, user_id: int) -> dict | None:
    """The space of a run if the user is a member of it (id and name), else None."""
    params = {"run_id": run_id, "user_id": user_id}
    return await (await conn.execute(RUN_SPACE_OF_MEMBER, params)).fetchone()
