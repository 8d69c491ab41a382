"""Monthly quotas and usage: the one place that answers "may this user start a run now", and all of
the SQL that writes `usage_monthly` (runs, steps, tokens and cost per user per calendar month, UTC).

Usage is written in the same statement as the work it counts, so it can never drift from the runs
and steps it describes. The writes are therefore CTEs that the engine's statements embed (one
round trip per step, as before); each names the CTEs it reads from its host statement:
- a run's start counts one run (`COUNT_STARTED_RUN`, in commands.INSERT_RUN);
- a model step adds its tokens and cost as it is journaled (`ADD_MODEL_USAGE`, in journal.WRITE_STEP);
- steps are billed when the run suspends or finishes, not per step (`BILL_STEPS`, in
  journal.SUSPEND_RUN and FINISH_RUN; `runs.steps_billed` says how many are already counted), so
  a run's steps do not queue on its owner's usage row; a hook decided from outside bills its own
  step (`BILL_DECIDED_HOOK`, in hooks.QUEUE_RUN).

Request rate limits (chat, API, logins, model calls) are app/core/ratelimit.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import AsyncConnection

from app.engine.errors import QuotaExceeded, RunNotFound
from app.engine.registry import catalog

if TYPE_CHECKING:
    from app.engine.registry import WorkflowDef

# NO KEY UPDATE serialises one owner's starts without blocking the foreign-key checks (KEY SHARE)
# of rows that reference the owner, such as a finishing run's notification (which would deadlock).
# Held until the start's transaction commits, so concurrent starts cannot exceed the quota.
LOCK_OWNER = """
SELECT u.id, t.name AS tier, t.title AS tier_title, t.monthly_runs
FROM users u JOIN tiers t ON t.name = u.tier WHERE u.id = %(owner_id)s FOR NO KEY UPDATE OF u
"""
# The quota counts the runs themselves, not usage_monthly.runs, because operator checks (selftest)
# are usage but not quota. It resets by calendar month in UTC, as usage does.
RUNS_THIS_MONTH = """
SELECT count(*) AS used FROM runs
WHERE owner_id = %(owner_id)s AND workflow <> ALL(%(exempt)s)
  AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
"""

# A CTE of commands.INSERT_RUN: one more run this month for the owner of the run in `ins`.
COUNT_STARTED_RUN = """usage AS (
    INSERT INTO usage_monthly AS u (user_id, month, runs)
    SELECT owner_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 1 FROM ins
    ON CONFLICT (user_id, month) DO UPDATE SET runs = u.runs + 1
)"""

# A CTE of journal.WRITE_STEP: a model step's tokens and cost (`cost`), once, when its journal row
# is written (`step`). Only model steps touch the owner's usage row here: they are slow, so no queue
# forms on it.
ADD_MODEL_USAGE = """usage AS (
    INSERT INTO usage_monthly AS u (user_id, month, tokens_in, tokens_out, cost_usd)
    SELECT %(owner_id)s, date_trunc('month', now() AT TIME ZONE 'UTC')::date,
           coalesce(%(tokens_in)s, 0), coalesce(%(tokens_out)s, 0), coalesce((SELECT usd FROM cost), 0)
    FROM step WHERE %(model)s::text IS NOT NULL
    ON CONFLICT (user_id, month) DO UPDATE SET
        tokens_in = u.tokens_in + EXCLUDED.tokens_in,
        tokens_out = u.tokens_out + EXCLUDED.tokens_out, cost_usd = u.cost_usd + EXCLUDED.cost_usd
)"""

# CTEs of journal.SUSPEND_RUN and FINISH_RUN: the run's not yet billed steps, added to its owner's
# usage when `upd` (which sets steps_billed = steps_done) changed the run. `unbilled` reads the row
# as it was before the statement's own update.
BILL_STEPS = """unbilled AS (
    SELECT owner_id, steps_done - steps_billed AS steps FROM runs WHERE id = %(run_id)s
), usage AS (
    INSERT INTO usage_monthly AS u (user_id, month, steps)
    SELECT owner_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, steps FROM unbilled
    WHERE steps > 0 AND EXISTS (SELECT 1 FROM upd)
    ON CONFLICT (user_id, month) DO UPDATE SET steps = u.steps + EXCLUDED.steps
)"""

# A CTE of hooks.QUEUE_RUN: a decided hook completes its step outside any advance, so it is billed
# at once (`upd` counted it in both steps_done and steps_billed).
BILL_DECIDED_HOOK = """usage AS (
    INSERT INTO usage_monthly AS u (user_id, month, steps)
    SELECT owner_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 1 FROM upd
    ON CONFLICT (user_id, month) DO UPDATE SET steps = u.steps + 1
)"""


async def lock_owner(conn: AsyncConnection, owner_id: int) -> dict:
    """Lock the owner's row for the rest of the caller's transaction (one start at a time per
    owner) and return their tier's quota. Raises RunNotFound for an unknown user."""
    owner = await (await conn.execute(LOCK_OWNER, {"owner_id": owner_id})).fetchone()
    if owner is None:
        raise RunNotFound("no such user")
    return owner


async def check_run_quota(conn: AsyncConnection, owner: dict, workflow: WorkflowDef) -> None:
    """May this owner start a run of `workflow` now? Raises QuotaExceeded if not. Call it under
    `lock_owner`, in the transaction that inserts the run."""
    if owner["monthly_runs"] is None or workflow.operator:
        return
    exempt = [w.name for w in catalog(include_hidden=True) if w.operator]
    used = (await (await conn.execute(RUNS_THIS_MONTH, {"owner_id": owner["id"], "exempt": exempt})).fetchone())["used"]
    if used >= owner["monthly_runs"]:
        raise QuotaExceeded(f"monthly workflow limit reached ({owner['monthly_runs']} on {owner['tier_title']})")


# What the owner has used this calendar month (UTC), for their account page: the quota's own count
# of runs beside the month's tokens and cost.
MONTH_USAGE = """
SELECT coalesce(u.tokens_in, 0) AS tokens_in, coalesce(u.tokens_out, 0) AS tokens_out,
       coalesce(u.cost_usd, 0) AS cost_usd, coalesce(u.steps, 0) AS steps,
       (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month')::date AS resets_on
FROM (SELECT 1) one
LEFT JOIN usage_monthly u ON u.user_id = %(owner_id)s AND u.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date
"""


async def month_usage(conn: AsyncConnection, owner_id: int) -> dict:
    """Runs counted against the quota this month, the month's tokens, steps and cost, and the
    date (UTC) the count starts again."""
    exempt = [w.name for w in catalog(include_hidden=True) if w.operator]
    used = (await (await conn.execute(RUNS_THIS_MONTH, {"owner_id": owner_id, "exempt": exempt})).fetchone())["used"]
    usage = await (await conn.execute(MONTH_USAGE, {"owner_id": owner_id})).fetchone()
    return {"runs": used, **usage}
