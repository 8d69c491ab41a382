"""Schedules fire on time, once per fire, and each run names its schedule and fire."""

from datetime import timedelta

import tests.integration.schedules.workflows  # noqa: F401  (registers test-tick)
from tests.integration.schedules.helpers import fires, make_schedule, pause, runs_of
from tests.support.engine import make_user
from tests.support.waiting import wait_for


async def test_an_interval_schedule_starts_one_run_per_fire_on_time(pool, worker):
    owner = await make_user(pool)
    schedule = await make_schedule(pool, owner, overlap="allow-all")
    await wait_for(lambda: _at_least(pool, schedule["id"], 3), timeout=20, what="three fires")
    await pause(pool, schedule["id"])
    made = await fires(pool, schedule["id"])
    runs = await runs_of(pool, schedule["id"])
    assert all(f["outcome"] == "started" for f in made)
    assert sorted(f["run_id"] for f in made) == sorted(r["id"] for r in runs)
    assert len({r["fire_at"] for r in runs}) == len(runs)
    # One second apart, on the schedule's whole seconds, each started within a second of its time.
    moments = [f["fire_at"] for f in made]
    assert all(b - a == timedelta(seconds=1) for a, b in zip(moments, moments[1:], strict=False))
    assert all(r["created_at"] - r["fire_at"] < timedelta(seconds=1) for r in runs)


async def _at_least(pool, schedule_id, n):
    return len(await fires(pool, schedule_id)) >= n


async def test_a_lost_wake_up_job_is_rearmed_by_the_sweep(pool, worker):
    owner = await make_user(pool)
    schedule = await make_schedule(pool, owner, every_s=2)
    await wait_for(lambda: _at_least(pool, schedule["id"], 1), timeout=20, what="a first fire")
    async with pool.connection() as conn:  # as a database restored without its queued jobs would be
        await conn.execute(
            "DELETE FROM procrastinate_jobs WHERE task_name = 'baton.schedules_due' AND status = 'todo'"
        )
        lost_at = (await (await conn.execute("SELECT now() AS t")).fetchone())["t"]
    await wait_for(
        lambda: _fired_since(pool, schedule["id"], lost_at),
        timeout=40,
        what="fires again after the sweep",
    )
    await pause(pool, schedule["id"])
    made = await fires(pool, schedule["id"])
    assert len({f["fire_at"] for f in made}) == len(made) and all(f["run_id"] for f in made)


async def _fired_since(pool, schedule_id, moment):
    return any(f["created_at"] > moment for f in await fires(pool, schedule_id))


async def test_an_interval_counts_from_its_start_date_and_old_fires_are_pruned(pool):
    from datetime import UTC, datetime

    from app.schedules.jobs import prune_fires

    owner = await make_user(pool)
    start = datetime(2031, 1, 1, 8, 0, tzinfo=UTC)
    schedule = await make_schedule(pool, owner, every_s=3600, starts_at=start)
    assert schedule["next_fire_at"] == start
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO schedule_fires (schedule_id, fire_at, kind, outcome, created_at) "
            "VALUES (%s, now() - interval '200 days', 'scheduled', 'skipped: quota', now() - interval '200 days')",
            (schedule["id"],),
        )
        assert await prune_fires(conn, 90) >= 1
    assert await fires(pool, schedule["id"]) == []


async def test_one_broken_schedule_does_not_hold_back_the_others(pool):
    from app.schedules.jobs import fire_due

    owner = await make_user(pool)
    good = await make_schedule(pool, owner, every_s=3600, name="good")
    broken = await make_schedule(pool, owner, every_s=3600, name="broken")
    async with pool.connection() as conn:  # a spec no code can read any more, due first
        await conn.execute(
            "UPDATE schedules SET every_s = NULL, cron = 'not a cron', next_fire_at = now() - interval '2 s' "
            "WHERE id = %s",
            (broken["id"],),
        )
        await conn.execute(
            "UPDATE schedules SET next_fire_at = now() - interval '1 s' WHERE id = %s",
            (good["id"],),
        )
        await fire_due(conn)
        left = await (
            await conn.execute(
                "SELECT next_fire_at < now() AS due FROM schedules WHERE id = %s", (broken["id"],)
            )
        ).fetchone()
    assert [f["outcome"] for f in await fires(pool, good["id"])] == ["started"]
    assert left["due"] and await fires(pool, broken["id"]) == []
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM schedules WHERE id = %s", (broken["id"],))


async def test_many_due_at_once_fire_once_each_from_concurrent_batched_jobs(pool):
    """Fires are batched per transaction; four jobs racing over 90 schedules of three owners
    (quota locks taken in owner order: no deadlock) start exactly one run per schedule."""
    import asyncio

    from app.schedules.jobs import fire_due

    owners = [await make_user(pool) for _ in range(3)]
    made = [
        await make_schedule(pool, owners[i % 3], every_s=3600, name=f"burst {i}") for i in range(90)
    ]
    ids = [s["id"] for s in made]
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE schedules SET next_fire_at = now() - interval '1 s' WHERE id = ANY(%s)", (ids,)
        )

    async def job() -> int:
        async with pool.connection() as conn:
            return await fire_due(conn)

    await asyncio.gather(*[job() for _ in range(4)])
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT schedule_id, count(*) AS n, count(run_id) AS runs FROM schedule_fires "
                "WHERE schedule_id = ANY(%s) GROUP BY schedule_id",
                (ids,),
            )
        ).fetchall()
        started = await (
            await conn.execute("SELECT count(*) AS n FROM runs WHERE schedule_id = ANY(%s)", (ids,))
        ).fetchone()
    assert len(rows) == 90 and all(r["n"] == 1 and r["runs"] == 1 for r in rows)
    assert started["n"] == 90


async def test_a_crowded_second_applies_the_quota_per_fire_and_tells_each_schedule_once(pool):
    """Five schedules of one owner due at once are fired as one batch: the quota is applied fire by
    fire (Pro: 10 a month, 8 used), so two start and three are "skipped: quota"; each skipped
    schedule tells its owner once, and its next skip this month tells nobody again."""
    from app.schedules.jobs import fire_due

    owner = await make_user(pool, tier="pro")
    made = [
        await make_schedule(pool, owner, every_s=3600, name=f"crowd {i}", overlap="allow-all")
        for i in range(5)
    ]
    ids = [s["id"] for s in made]
    async with pool.connection() as conn:
        await conn.execute(  # eight runs already started this month
            "INSERT INTO space_month_runs (space_id, month, runs) "
            "SELECT id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 8 "
            "FROM spaces WHERE personal_of = %s",
            (owner,),
        )
        for round_ in range(2):
            await conn.execute(  # a fire of the (re-anchored) hourly spec, distinct each round
                "UPDATE schedules SET anchor_at = now() - make_interval(secs => %s), "
                "next_fire_at = now() - make_interval(secs => %s) WHERE id = ANY(%s)",
                (10 * (1 + round_), 10 * (1 + round_), ids),
            )
            await fire_due(conn)  # (a worker left by an earlier test may fire some of them)

            async def recorded(n=5 * (round_ + 1)) -> bool:
                async with pool.connection() as c:
                    row = await (
                        await c.execute(
                            "SELECT count(*) AS n FROM schedule_fires WHERE schedule_id = ANY(%s)",
                            (ids,),
                        )
                    ).fetchone()
                return row["n"] >= n

            await wait_for(recorded, what=f"round {round_ + 1} of fires")
        outcomes = await (
            await conn.execute(
                "SELECT outcome, count(*) AS n FROM schedule_fires WHERE schedule_id = ANY(%s) "
                "GROUP BY outcome",
                (ids,),
            )
        ).fetchall()
        told = await (
            await conn.execute(
                "SELECT url, count(*) AS n FROM notifications WHERE user_id = %s GROUP BY url",
                (owner,),
            )
        ).fetchall()
        started = await (
            await conn.execute(
                "SELECT count(*) AS n FROM runs WHERE schedule_id = ANY(%s) AND fire_at IS NOT NULL",
                (ids,),
            )
        ).fetchone()
    # Round one: two start, three skip; round two: all five skip (the quota is used up).
    assert {r["outcome"]: r["n"] for r in outcomes} == {"started": 2, "skipped: quota": 8}
    assert started["n"] == 2
    assert (
        all(r["n"] == 1 for r in told) and len(told) == 5
    )  # the two that started skip in round two
