"""Monthly quotas and usage: the one place that answers "may this user start a run now", and the
index of all of the SQL that writes `usage_monthly` (runs, steps, tokens and cost per user per
calendar month, UTC).

Usage is written in the same statement as the work it counts, so it can never drift from the runs
and steps it describes (one round trip per step). Those statements live with the work, in the
`.sql` file of the module that runs it, each with a `usage` CTE; these are all of them
(tests/unit/test_sql_queries.py fails on a query that writes `usage_monthly` and is not listed here):
- a run's start counts one run: `insert_run` (commands.sql);
- a model step adds its tokens and cost as it is journaled: `write_step` (journal.sql);
- steps are billed when the run suspends or finishes, not per step: `suspend_run` and `finish_run`
  (journal.sql; `runs.steps_billed` says how many are already counted), so a run's steps do not
  queue on its owner's usage row; a hook decided from outside bills its own step: `queue_run`
  (hooks.sql).
They are written out in full rather than assembled from shared CTE fragments: each reads as the
one statement that runs, and the list above (checked by the test) keeps them findable.

Request rate limits (chat, API, logins, model calls) are app/core/ratelimit.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import AsyncConnection

from app.core import policy
from app.core.sql_queries import load_queries
from app.engine.errors import QuotaExceeded, RunNotFound
from app.engine.registry import catalog

if TYPE_CHECKING:
    from app.engine.registry import WorkflowDef

SQL = load_queries(__file__)
LOCK_SPACE = SQL["lock_space"]
RUNS_THIS_MONTH = SQL["runs_this_month"]


async def lock_space(conn: AsyncConnection, owner_id: int, space_id: int | None = None) -> dict:
    """Lock the space a run starts in (default: the owner's personal space) for the rest of the
    caller's transaction (one start at a time per space) and return its plan's quota and the
    starter's role there. Raises RunNotFound for an unknown user or a space they are not a member
    of, and policy.Forbidden when their role may not start runs (a viewer)."""
    owner = await (
        await conn.execute(LOCK_SPACE, {"owner_id": owner_id, "space_id": space_id})
    ).fetchone()
    if owner is None:
        raise RunNotFound("no such user or space")
    if not policy.allows(owner["role"], policy.Action.START):
        raise policy.Forbidden(f"A {owner['role']} may not start runs in this space.")
    return owner


async def check_run_quota(conn: AsyncConnection, owner: dict, workflow: WorkflowDef) -> None:
    """May this space take a run of `workflow` now? Raises QuotaExceeded if not. Call it under
    `lock_space`, in the transaction that inserts the run."""
    if owner["monthly_runs"] is None or workflow.operator:
        return
    exempt = [w.name for w in catalog(include_hidden=True) if w.operator]
    used = (
        await (
            await conn.execute(RUNS_THIS_MONTH, {"space_id": owner["space_id"], "exempt": exempt})
        ).fetchone()
    )["used"]
    if used >= owner["monthly_runs"]:
        # A team's quota is shared by its members: name the team whose plan it is.
        whose = f"team {owner['space_name']}'s " if owner["space_kind"] == "team" else ""
        raise QuotaExceeded(
            f"{whose}monthly workflow limit reached ({owner['monthly_runs']} on {owner['tier_title']})"
        )


MONTH_USAGE = SQL["month_usage"]
SPACE_MONTH_USAGE = SQL["space_month_usage"]


async def month_usage(
    conn: AsyncConnection, owner_id: int, space_id: int, *, team: bool = False
) -> dict:
    """Runs counted against the space's quota this month, the tokens, steps and cost this month
    (the owner's own; a `team`'s added up across its members' runs in it), and the date (UTC) the
    count starts again."""
    exempt = [w.name for w in catalog(include_hidden=True) if w.operator]
    used = (
        await (
            await conn.execute(RUNS_THIS_MONTH, {"space_id": space_id, "exempt": exempt})
        ).fetchone()
    )["used"]
    if team:
        usage = await (await conn.execute(SPACE_MONTH_USAGE, {"space_id": space_id})).fetchone()
    else:
        usage = await (await conn.execute(MONTH_USAGE, {"owner_id": owner_id})).fetchone()
    return {"runs": used, **usage}
