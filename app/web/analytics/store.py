"""Admin analytics over a period, all runs across users, the model price table and the platform
cost projection. Every figure is one indexed query over runs, hooks or monthly usage (never a
scan of the journal), so the page stays fast with millions of steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from psycopg import AsyncConnection

SUMMARY = """
SELECT count(*) AS started,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE status NOT IN ('completed', 'failed', 'cancelled')) AS active,
       coalesce(avg(steps_done), 0) AS avg_steps,
       coalesce(sum(steps_done), 0) AS steps,
       coalesce(sum(steps_failed), 0) AS steps_failed,
       count(DISTINCT owner_id) AS active_users,
       coalesce(sum(cost_usd), 0) AS cost_usd
FROM runs WHERE created_at >= %(start)s AND created_at < %(end)s
"""

HOOKS = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - created_at))
         FILTER (WHERE status = 'resolved') AS median_s,
       count(*) FILTER (WHERE kind = 'approval' AND status = 'resolved'
                        AND decided_at <= created_at + interval '24 hours') AS within_24h,
       count(*) FILTER (WHERE kind = 'approval' AND (status IN ('resolved', 'expired')
                                                     OR created_at <= now() - interval '24 hours')) AS answerable
FROM hooks WHERE created_at >= %(start)s AND created_at < %(end)s
"""

PER_DAY = """
SELECT d::date AS day, count(r.id) AS runs
FROM generate_series(%(start)s::date, (%(end)s::timestamptz - interval '1 second')::date, interval '1 day') AS d
LEFT JOIN runs r ON r.created_at >= d AND r.created_at < d + interval '1 day'
GROUP BY d ORDER BY d
"""

TOP_WORKFLOWS = """
SELECT workflow, count(*) AS runs, count(*) FILTER (WHERE status = 'completed') AS completed
FROM runs WHERE created_at >= %(start)s AND created_at < %(end)s
GROUP BY workflow ORDER BY runs DESC LIMIT 10
"""

TOP_USERS = """
SELECT u.email, t.runs, t.cost_usd, t.tokens
FROM (SELECT owner_id, count(*) AS runs, sum(cost_usd) AS cost_usd, sum(tokens_in + tokens_out) AS tokens
      FROM runs WHERE created_at >= %(start)s AND created_at < %(end)s
      GROUP BY owner_id ORDER BY sum(cost_usd) DESC, count(*) DESC LIMIT 10) AS t
JOIN users u ON u.id = t.owner_id ORDER BY t.cost_usd DESC, t.runs DESC
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
    def params(self) -> dict:
        return {"start": self.start, "end": self.end}


async def analytics(conn: AsyncConnection, period: Period) -> dict:
    async def one(query):
        return await (await conn.execute(query, period.params)).fetchone()

    async def rows(query):
        return await (await conn.execute(query, period.params)).fetchall()

    summary, hooks = await one(SUMMARY), await one(HOOKS)
    finished = summary["completed"] + summary["failed"] + summary["cancelled"]
    all_steps = summary["steps"] + summary["steps_failed"]
    return {
        "summary": summary,
        "completion_rate": summary["completed"] / finished if finished else None,
        "step_failure_rate": summary["steps_failed"] / all_steps if all_steps else None,
        "median_hook_s": hooks["median_s"],
        "approvals_within_24h": hooks["within_24h"] / hooks["answerable"] if hooks["answerable"] else None,
        "per_day": await rows(PER_DAY),
        "top_workflows": await rows(TOP_WORKFLOWS),
        "top_users": await rows(TOP_USERS),
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
        "steps_so_far": steps_so_far, "projected_steps": projected_steps, "billable_steps": billable_steps,
        "steps_cost": steps_cost, "storage_gb": storage_gb.quantize(Decimal("0.001")),
        "billable_gb": billable_gb.quantize(Decimal("0.001")), "storage_cost": storage_cost,
        "total": steps_cost + storage_cost, "days_in_month": days_in_month, "day": today.day,
    }


async def month_projection(conn: AsyncConnection, today: date | None = None) -> dict:
    today = today or datetime.now(UTC).date()
    row = await (await conn.execute(MONTH_USAGE, {"month": today.replace(day=1)})).fetchone()
    return project_month(row["steps"], row["db_bytes"], today) | {"model_cost": row["model_cost"]}


async def all_runs(conn: AsyncConnection, *, email: str | None, status: str | None, workflow: str | None,
                   before: datetime | None, limit: int = 50) -> tuple[list[dict], datetime | None]:
    found = await (await conn.execute(ALL_RUNS, {"email": email, "status": status, "workflow": workflow,
                                                 "before": before, "limit": limit + 1})).fetchall()
    more = found[limit - 1]["created_at"] if len(found) > limit else None
    return found[:limit], more


async def prices(conn: AsyncConnection) -> list[dict]:
    return await (await conn.execute(PRICES)).fetchall()


async def save_price(conn: AsyncConnection, model: str, input_per_1k: Decimal, output_per_1k: Decimal) -> None:
    await conn.execute(SAVE_PRICE, {"model": model, "input": input_per_1k, "output": output_per_1k})


async def delete_price(conn: AsyncConnection, model: str) -> None:
    await conn.execute(DELETE_PRICE, {"model": model})
