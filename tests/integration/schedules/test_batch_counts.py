"""Many schedules of one owner due at the same second, fired by concurrent jobs in small batches:
each fire exactly once, the quota applied fire by fire across the racing batches (N start, the
rest are "skipped: quota"), the owner's and the space's monthly counts exact, and every next fire
armed once the batches have committed (app/schedules/batch.py)."""

import asyncio

import tests.integration.schedules.workflows  # noqa: F401  (registers test-tick)
from tests.integration.schedules.helpers import make_schedule
from tests.support.engine import make_user


async def _burst(pool, monkeypatch, owner: int, n: int) -> list:
    """`n` hourly schedules of `owner`, all due now, fired by four concurrent jobs, five a batch."""
    from app.schedules import jobs

    monkeypatch.setattr(jobs, "FIRE_BATCH", 5)
    made = [
        await make_schedule(pool, owner, every_s=3600, name=f"burst {i}", overlap="allow-all")
        for i in range(n)
    ]
    ids = [s["id"] for s in made]
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE schedules SET next_fire_at = now() - interval '1 s' WHERE id = ANY(%s)", (ids,)
        )

    async def job() -> int:
        async with pool.connection() as conn:
            return await jobs.fire_due(conn)

    await asyncio.gather(*[job() for _ in range(4)])
    return ids


async def _read(pool, owner: int, ids: list) -> dict:
    async with pool.connection() as conn:

        async def one(sql: str, *args):
            return await (await conn.execute(sql, args)).fetchone()

        async def all_(sql: str, *args):
            return await (await conn.execute(sql, args)).fetchall()

        month = "date_trunc('month', now() AT TIME ZONE 'UTC')::date"
        return {
            "fires": await all_(
                "SELECT schedule_id, outcome, run_id FROM schedule_fires WHERE schedule_id = ANY(%s)",
                ids,
            ),
            "runs": (await one("SELECT count(*) AS n FROM runs WHERE schedule_id = ANY(%s)", ids))[
                "n"
            ],
            "space_count": (
                await one(
                    "SELECT coalesce(sum(runs), 0) AS n FROM space_month_runs c "
                    f"JOIN spaces s ON s.id = c.space_id WHERE s.personal_of = %s AND c.month = {month}",
                    owner,
                )
            )["n"],
            "usage_count": (
                await one(
                    "SELECT coalesce(sum(runs), 0) AS n FROM usage_monthly "
                    f"WHERE user_id = %s AND month = {month}",
                    owner,
                )
            )["n"],
            "next_fires": {
                r["next_fire_at"]
                for r in await all_("SELECT next_fire_at FROM schedules WHERE id = ANY(%s)", ids)
            },
            "armed": {
                r["queueing_lock"]
                for r in await all_(
                    "SELECT queueing_lock FROM procrastinate_jobs "
                    "WHERE status = 'todo' AND queueing_lock LIKE 'schedules:%%'"
                )
            },
            "next": (
                await one(
                    "SELECT count(*) AS n FROM schedules WHERE id = ANY(%s) AND next_fire_at > now()",
                    ids,
                )
            )["n"],
        }


def _armed(seen: dict) -> bool:
    """Every next fire time of the burst has its wake-up job waiting (firing.arm's queueing lock)."""
    return all(f"schedules:{t.isoformat()}" in seen["armed"] for t in seen["next_fires"])


async def test_concurrent_batches_of_one_owner_fire_once_each_and_count_exactly(pool, monkeypatch):
    owner = await make_user(pool)  # enterprise: no monthly quota, the batches run side by side
    ids = await _burst(pool, monkeypatch, owner, 40)
    seen = await _read(pool, owner, ids)
    assert len(seen["fires"]) == 40 and len({f["schedule_id"] for f in seen["fires"]}) == 40
    assert all(f["outcome"] == "started" and f["run_id"] for f in seen["fires"])
    assert seen["runs"] == 40
    assert seen["space_count"] == 40 and seen["usage_count"] == 40
    assert seen["next"] == 40 and _armed(seen)


async def test_racing_batches_cross_the_quota_exactly(pool, monkeypatch):
    """Pro: 10 runs a month, 7 used. 23 fires of one owner in batches of five from four jobs: 3
    start, 20 are "skipped: quota", and the counts end at exactly 10."""
    owner = await make_user(pool, tier="pro")
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO space_month_runs (space_id, month, runs) "
            "SELECT id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 7 "
            "FROM spaces WHERE personal_of = %s",
            (owner,),
        )
    ids = await _burst(pool, monkeypatch, owner, 23)
    seen = await _read(pool, owner, ids)
    outcomes = [f["outcome"] for f in seen["fires"]]
    assert len(outcomes) == 23 and len({f["schedule_id"] for f in seen["fires"]}) == 23
    assert outcomes.count("started") == 3 and outcomes.count("skipped: quota") == 20
    assert seen["runs"] == 3
    assert seen["space_count"] == 10 and seen["usage_count"] == 3
    assert seen["next"] == 23 and _armed(seen)
