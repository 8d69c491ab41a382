"""Monthly quotas and usage: the one place that answers "may this user start a run now", and the
index of all of the SQL that writes `usage_monthly` (runs, steps, tokens and cost per user per
calendar month, UTC).

Usage is written in the same statement as the work it counts, so it can never drift from the runs
and steps it describes (one round trip per step). Those statements live with the work, in the
`.sql` file of the module that runs it, each with a `usage` CTE; these are all of them
(tests/unit/test_sql_queries.py fails on a query that writes `usage_monthly` and is not listed here):
- a run's start counts one run: `count_runs` (commands.sql, the last write of a start, so its
  shared rows stay locked briefly), which also counts it in the quota's own per-space monthly count
  (`space_month_runs`, read by `runs_used`) unless it is an operator check;
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

if TYPE_CHECKING:
    from app.engine.registry import WorkflowDef

SQL = load_queries(__file__)
SPACE_PLANS = SQL["space_plans"]
LOCK_SPACES_FOR_QUOTA = SQL["lock_spaces_for_quota"]
SHARE_SPACES = SQL["share_spaces"]
RUNS_THIS_MONTH = SQL["runs_this_month"]


def counts_toward_quota(workflow: WorkflowDef) -> bool:
    """Operator checks (selftest) are usage but not quota."""
    return not workflow.operator


async def lock_spaces(
    conn: AsyncConnection, starters: list[tuple[int, int | None]]
) -> dict[tuple[int, int | None], dict]:
    """Lock the spaces a batch of runs starts in, for the rest of the caller's transaction: a space
    with a monthly quota takes one start, or batch, at a time (its quota is counted under that
    lock); one without takes any number side by side. `starters` are (owner id, space id or None
    for the owner's personal space); the answer maps each of them that exists and is a member to
    the space's plan quota and the starter's role there (a missing key: an unknown user, or not a
    member). The caller checks the role (policy.Action.START)."""
    if not starters:
        return {}
    params = {"owner_ids": [o for o, _ in starters], "space_ids": [s for _, s in starters]}
    plans = await (await conn.execute(SPACE_PLANS, params)).fetchall()
    limited = sorted({r["space_id"] for r in plans if r["monthly_runs"] is not None})
    shared = sorted({r["space_id"] for r in plans} - set(limited))
    if limited:
        await conn.execute(LOCK_SPACES_FOR_QUOTA, {"ids": limited})
    if shared:
        await conn.execute(SHARE_SPACES, {"ids": shared})
    if limited:  # their plan and the starters' roles as they are now, under the lock
        plans = [
            r | {"monthly_runs": None} if r["space_id"] in shared else r
            for r in await (await conn.execute(SPACE_PLANS, params)).fetchall()
        ]
    # A space that was given a quota since it was read starts this batch as it was read (as if it
    # had started just before): the next start there waits for it in `lock_spaces_for_quota`.
    return {(r["id"], r["asked_space_id"]): r for r in plans}


def may_start(owner: dict | None) -> None:
    """Raises RunNotFound for an unknown user or a space they are not a member of, and
    policy.Forbidden when their role there may not start runs (a viewer)."""
    if owner is None:
        raise RunNotFound("no such user or space")
    if not policy.allows(owner["role"], policy.Action.START):
        raise policy.Forbidden(f"A {owner['role']} may not start runs in this space.")


async def lock_space(conn: AsyncConnection, owner_id: int, space_id: int | None = None) -> dict:
    """`lock_spaces` for one start, checked with `may_start`."""
    owner = (await lock_spaces(conn, [(owner_id, space_id)])).get((owner_id, space_id))
    may_start(owner)
    return owner


async def runs_used(conn: AsyncConnection, space_ids: list[int]) -> dict[int, int]:
    """Runs counted against each space's quota this month: one indexed row per space, however many
    runs it has (the start command keeps the count, sql/0100)."""
    rows = await (
        await conn.execute(RUNS_THIS_MONTH, {"space_ids": sorted(set(space_ids))})
    ).fetchall()
    return {r["space_id"]: r["used"] for r in rows}


async def check_run_quota(
    conn: AsyncConnection, owner: dict, workflow: WorkflowDef, used: dict[int, int] | None = None
) -> None:
    """May this space take a run of `workflow` now? Raises QuotaExceeded if not. Call it under
    `lock_space(s)`, in the transaction that inserts the run. A batch passes `used` (from
    `runs_used`, for its spaces), which this counts each admitted run into, so the batch's own
    runs count against the quota of its later ones."""
    if owner["monthly_runs"] is None or not counts_toward_quota(workflow):
        return
    if used is None:
        used = await runs_used(conn, [owner["space_id"]])
    if used[owner["space_id"]] >= owner["monthly_runs"]:
        # A team's quota is shared by its members: name the team whose plan it is.
        whose = f"team {owner['space_name']}'s " if owner["space_kind"] == "team" else ""
        raise QuotaExceeded(
            f"{whose}monthly workflow limit reached ({owner['monthly_runs']} on {owner['tier_title']})"
        )
    used[owner["space_id"]] += 1


MONTH_USAGE = SQL["month_usage"]
SPACE_MONTH_USAGE = SQL["space_month_usage"]


async def month_usage(
    conn: AsyncConnection, owner_id: int, space_id: int, *, team: bool = False
) -> dict:
    """Runs counted against the space's quota this month, the tokens, steps and cost this month
    (the owner's own; a `team`'s added up across its members' runs in it), and the date (UTC) the
    count starts again."""
    used = (await runs_used(conn, [space_id]))[space_id]
    if team:
        usage = await (await conn.execute(SPACE_MONTH_USAGE, {"space_id": space_id})).fetchone()
    else:
        usage = await (await conn.execute(MONTH_USAGE, {"owner_id": owner_id})).fetchone()
    return {"runs": used, **usage}
