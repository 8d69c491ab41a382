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
