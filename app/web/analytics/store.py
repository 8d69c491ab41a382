"""Admin analytics over a period, all runs across users, the model price table and the platform
cost projection. No figure reads the journal, and the run figures do not read every run of the
period: finished runs come from a per-day rollup (app/engine/analytics_fold.py), so the page's
cost grows with the period's days, users and unfinished runs, not with its finished runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from psycopg import AsyncConnection

from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
# The period's totals, days, workflows and top users: rows tagged by `g`.
RUN_GROUPS = SQL["run_groups"]
ONE_SNAPSHOT = SQL["one_snapshot"]
ROLLUP_POSITION = SQL["rollup_position"]

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

    @property
    def rollup_params(self) -> dict:
        """The whole UTC days inside the period (read from the rollup plus the runs it does not
        hold) and the partial days at its edges (read live): `[start, full_start)` and
        `[full_end, end)`. A period within one day has no whole day: all of it is read live."""
        full_start = _midnight(self.start, up=True)
        full_end = _midnight(self.end, up=False)
        if full_start >= full_end:
            full_start = full_end = self.start
        return self.params | {
            "full_start": full_start,
            "full_end": full_end,
            "first_day": full_start.astimezone(UTC).date(),
            "end_day": full_end.astimezone(UTC).date(),
        }


def _midnight(at: datetime, *, up: bool) -> datetime:
    at = at.astimezone(UTC)
    floor = datetime.combine(at.date(), datetime.min.time(), UTC)
    return floor + timedelta(days=1) if up and floor < at else floor


async def analytics(conn: AsyncConnection, period: Period) -> dict:
    async with conn.transaction():
        await conn.execute(ONE_SNAPSHOT)
        position = await (await conn.execute(ROLLUP_POSITION)).fetchone()
        # Planned for its values each time: a generic plan (psycopg prepares a statement after 5
        # runs) cannot see how few runs are past the position; it took 3-4x as long at 375,000 runs.
        groups = await (
            await conn.execute(RUN_GROUPS, period.rollup_params | position, prepare=False)
        ).fetchall()
    hooks = await (await conn.execute(HOOKS, period.params)).fetchone()
    total = next(g for g in groups if g["g"] == "total")
    by_day = {g["day"]: g["runs"] for g in groups if g["g"] == "day"}
    owners = [g for g in groups if g["g"] == "owner"]
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
            "active_users": owners[0]["users"] if owners else 0,
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
                if g["g"] == "workflow"
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
