"""Admin analytics over a period, all runs across users, the model price table and the platform
cost projection. Every figure is one indexed query over runs, hooks or monthly usage (never a
scan of the journal), so the page stays fast with millions of steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from psycopg import AsyncConnection

# One scan of the period's runs feeds the totals, the days, the workflows and the users at once.
RUN_GROUPS = """
SELECT GROUPING(day, workflow, owner_id) AS g, day, workflow, owner_id,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       coalesce(sum(steps_done), 0) AS steps,
       coalesce(sum(steps_failed), 0) AS steps_failed,
       coalesce(sum(cost_usd), 0) AS cost_usd,
       coalesce(sum(tokens_in + tokens_out), 0) AS tokens
FROM (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, workflow, owner_id, status, steps_done, steps_failed,
             cost_usd, tokens_in, tokens_out
      FROM runs WHERE created_at >= %(start)s AND created_at < %(end)s) AS r
GROUP BY GROUPING SETS ((), (day), (workflow), (owner_id))
"""
# GROUPING() bits, in the order (day, workflow, owner_id): 1 marks a column not grouped by.
TOTAL, BY_DAY, BY_WORKFLOW, BY_OWNER = 7, 3, 5, 6

EMAILS = "SELECT id, email FROM users WHERE id = ANY(%(ids)s)"

HOOKS = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - created_at))
         FILTER (WHERE status = 'resolved') AS median_s,
       count(*) FILTER (WHERE kind = 'approval' AND status = 'resolved'
                        AND decided_at <= created_at + interval '24 hours') AS within_24h,
       count(*) FILTER (WHERE kind = 'approval' AND (status IN ('resolved', 'expired')
                                                     OR created_at <= now() - interval '24 hours')) AS answerable
FROM hooks WHERE created_at >= %(start)s AND created_at < %(end)s
"""


MONTH_USAGE = """
SELECT coalesce(sum(steps), 0) AS steps, coalesce(sum(cost_usd), 0) AS model_cost,
       pg_database_size(current_database()) AS db_bytes
FROM usage_monthly WHERE month = %(month)s
"""

ALL_RUNS = """
SELECT r.id, r.workflow, r.title, r.status, r.created_at, r.steps_done, r.cost_usd, u.email
FROM runs r JOIN users u ON u.id = r.owner_id
WHERE (%(email)s::text IS NULL OR u.email = %(email)s)
  AND (%(status)s::text IS NULL OR r.status = %(status)s)
  AND (%(workflow)s::text IS NULL OR r.workflow = %(workflow)s)
  AND (%(before)s::timestamptz IS NULL OR r.created_at < %(before)s)
ORDER BY r.created_at DESC LIMIT %(limit)s
"""

PRICES = "SELECT model, input_per_1k, output_per_1k, updated_at FROM model_prices ORDER BY model"
SAVE_PRICE = """
INSERT INTO model_prices (model, input_per_1k, output_per_1k) VALUES (%(model)s, %(input)s, %(output)s)
ON CONFLICT (model) DO UPDATE SET input_per_1k = EXCLUDED.input_per_1k,
                                  output_per_1k = EXCLUDED.output_per_1k, updated_at = now()
"""
DELETE_PRICE = "DELETE FROM model_prices WHERE model = %(model)s"

# The product brief's platform prices.
INCLUDED_STEPS = 1_000_000
STEP_PRICE_PER_1K = Decimal("0.60")
INCLUDED_STORAGE_GB = 10
STORAGE_PRICE_PER_GB = Decimal("0.10")


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @classmethod
    def last_days(cls, days: int, now: datetime | None = None) -> Period:
        now = now or datetime.now(UTC)
        end = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        return cls(end - timedelta(days=days), end)

    @property
    def last_day(self) -> date:
        """The last day the period includes (`end` itself is excluded)."""
        return (self.end - timedelta(days=1)).date()

    @property
    def params(self) -> dict:
        return {"start": self.start, "end": self.end}


async def analytics(conn: AsyncConnection, period: Period) -> dict:
    groups = await (await conn.execute(RUN_GROUPS, period.params)).fetchall()
    hooks = await (await conn.execute(HOOKS, period.params)).fetchone()
    empty = {
        "runs": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
        "steps": 0,
        "steps_failed": 0,
        "cost_usd": Decimal(0),
        "tokens": 0,
    }
    total = next((g for g in groups if g["g"] == TOTAL), empty)
    by_day = {g["day"]: g["runs"] for g in groups if g["g"] == BY_DAY}
    owners = sorted(
        (g for g in groups if g["g"] == BY_OWNER),
        key=lambda g: (g["cost_usd"], g["runs"]),
        reverse=True,
    )[:10]
    emails = {
        r["id"]: r["email"]
        for r in await (
            await conn.execute(EMAILS, {"ids": [o["owner_id"] for o in owners]})
        ).fetchall()
    }
    finished = total["completed"] + total["failed"] + total["cancelled"]
    all_steps = total["steps"] + total["steps_failed"]
    days = (period.end.date() - period.start.date()).days
    return {
        "summary": total
        | {
            "started": total["runs"],
            "active_users": sum(1 for g in groups if g["g"] == BY_OWNER),
            "avg_steps": total["steps"] / total["runs"] if total["runs"] else 0,
        },
        "completion_rate": total["completed"] / finished if finished else None,
        "step_failure_rate": total["steps_failed"] / all_steps if all_steps else None,
        "median_hook_s": hooks["median_s"],
        "approvals_within_24h": hooks["within_24h"] / hooks["answerable"]
        if hooks["answerable"]
        else None,
        "per_day": [
            {"day": d, "runs": by_day.get(d, 0)}
            for d in (period.start.date() + timedelta(days=i) for i in range(days))
        ],
        "top_workflows": sorted(
            (
                {"workflow": g["workflow"], "runs": g["runs"], "completed": g["completed"]}
                for g in groups
                if g["g"] == BY_WORKFLOW
            ),
            key=lambda w: -w["runs"],
        )[:10],
        "top_users": [
            {
                "email": emails.get(o["owner_id"], "?"),
                "runs": o["runs"],
                "cost_usd": o["cost_usd"],
                "tokens": o["tokens"],
            }
            for o in owners
        ],
    }


def project_month(steps_so_far: int, db_bytes: int, today: date) -> dict:
    """Platform cost for this month, extrapolating steps linearly from the days elapsed."""
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    days_in_month = (next_month - today.replace(day=1)).days
    projected_steps = round(steps_so_far * days_in_month / today.day)
    billable_steps = max(0, projected_steps - INCLUDED_STEPS)
    storage_gb = Decimal(db_bytes) / Decimal(1024**3)
    billable_gb = max(Decimal(0), storage_gb - INCLUDED_STORAGE_GB)
    steps_cost = (Decimal(billable_steps) / 1000 * STEP_PRICE_PER_1K).quantize(Decimal("0.01"))
    storage_cost = (billable_gb * STORAGE_PRICE_PER_GB).quantize(Decimal("0.01"))
    return {
        "steps_so_far": steps_so_far,
        "projected_steps": projected_steps,
        "billable_steps": billable_steps,
        "steps_cost": steps_cost,
        "storage_gb": storage_gb.quantize(Decimal("0.001")),
        "billable_gb": billable_gb.quantize(Decimal("0.001")),
        "storage_cost": storage_cost,
        "total": steps_cost + storage_cost,
        "days_in_month": days_in_month,
        "day": today.day,
    }


async def month_projection(conn: AsyncConnection, today: date | None = None) -> dict:
    today = today or datetime.now(UTC).date()
    row = await (await conn.execute(MONTH_USAGE, {"month": today.replace(day=1)})).fetchone()
    return project_month(row["steps"], row["db_bytes"], today) | {"model_cost": row["model_cost"]}


async def all_runs(
    conn: AsyncConnection,
    *,
    email: str | None,
    status: str | None,
    workflow: str | None,
    before: datetime | None,
    limit: int = 50,
) -> tuple[list[dict], datetime | None]:
    found = await (
        await conn.execute(
            ALL_RUNS,
            {
                "email": email,
                "status": status,
                "workflow": workflow,
                "before": before,
                "limit": limit + 1,
            },
        )
    ).fetchall()
    more = found[limit - 1]["created_at"] if len(found) > limit else None
    return found[:limit], more


async def prices(conn: AsyncConnection) -> list[dict]:
    return await (await conn.execute(PRICES)).fetchall()


async def save_price(
    conn: AsyncConnection, model: str, input_per_1k: Decimal, output_per_1k: Decimal
) -> None:
    await conn.execute(SAVE_PRICE, {"model": model, "input": input_per_1k, "output": output_per_1k})


async def delete_price(conn: AsyncConnection, model: str) -> None:
    await conn.execute(DELETE_PRICE, {"model": model})
