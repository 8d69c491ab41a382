"""Each policy does what it says: overlap (skip, buffer one, allow all, cancel the previous), pause
after failures in a row, and the quota at each fire (told once a month, not once per fire)."""

from tests.integration.schedules.helpers import fires, make_schedule, pause, runs_of
from tests.integration.schedules.workflows import TickInput  # noqa: F401  (registers test-tick)
from tests.support.engine import make_user
from tests.support.waiting import wait_for


async def _fires_until(pool, schedule_id, check, timeout=30, what="fires"):
    async def ready():
        made = await fires(pool, schedule_id)
        return made if check(made) else None

    return await wait_for(ready, timeout=timeout, what=what)


def _overlapping(runs) -> bool:
    spans = sorted((r["created_at"], r["completed_at"]) for r in runs if r["completed_at"])
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))


async def test_skip_never_runs_two_at_once(pool, worker):
    owner = await make_user(pool)
    s = await make_schedule(pool, owner, input={"hold_s": 2.2}, overlap="skip")
    await _fires_until(
        pool, s["id"], lambda f: sum(x["outcome"] == "started" for x in f) >= 2, what="two runs"
    )
    await pause(pool, s["id"])
    made = await fires(pool, s["id"])
    assert any(f["outcome"] == "skipped: overlap" and f["run_id"] is None for f in made)
    runs = await wait_for(lambda: _all_ended(pool, s["id"]), timeout=20, what="the runs to end")
    assert not _overlapping(runs)


async def _all_ended(pool, schedule_id):
    runs = await runs_of(pool, schedule_id)
    return runs if all(r["status"] in ("completed", "failed", "cancelled") for r in runs) else None


async def test_buffer_one_starts_the_waiting_fire_when_the_run_ends_and_skips_the_rest(
    pool, worker
):
    owner = await make_user(pool)
    s = await make_schedule(pool, owner, input={"hold_s": 2.5}, overlap="buffer-one")
    made = await _fires_until(
        pool,
        s["id"],
        lambda f: any(x["outcome"] == "skipped: buffer full" for x in f),
        what="a fire beyond the buffer",
    )
    buffered = next(
        f
        for f in made
        if f["fire_at"] > made[0]["fire_at"] and f["outcome"] in ("buffered", "started")
    )
    # The buffered fire starts its run once the first run ends, with its own fire time.
    second = await _fires_until(
        pool,
        s["id"],
        lambda f: any(x["fire_at"] == buffered["fire_at"] and x["run_id"] for x in f),
        what="the buffered fire's run",
    )
    await pause(pool, s["id"])
    started = [f for f in second if f["fire_at"] == buffered["fire_at"]][0]
    runs = {
        r["id"]: r
        for r in await wait_for(
            lambda: _all_ended(pool, s["id"]), timeout=20, what="the runs to end"
        )
    }
    first_run = runs[made[0]["run_id"]]
    assert runs[started["run_id"]]["created_at"] >= first_run["completed_at"]
    assert runs[started["run_id"]]["fire_at"] == buffered["fire_at"]
    assert not _overlapping(runs.values())


async def test_allow_all_runs_them_side_by_side(pool, worker):
    owner = await make_user(pool)
    s = await make_schedule(pool, owner, input={"hold_s": 2.2}, overlap="allow-all")
    await _fires_until(pool, s["id"], lambda f: len(f) >= 3, what="three fires")
    await pause(pool, s["id"])
    assert all(f["outcome"] == "started" for f in await fires(pool, s["id"]))
    assert _overlapping(
        await wait_for(lambda: _all_ended(pool, s["id"]), timeout=20, what="the runs to end")
    )


async def test_cancel_previous_cancels_the_running_one(pool, worker):
    owner = await make_user(pool)
    s = await make_schedule(pool, owner, input={"hold_s": 30}, overlap="cancel-previous")
    await _fires_until(pool, s["id"], lambda f: len(f) >= 3, what="three fires")
    await pause(pool, s["id"])
    runs = await wait_for(
        lambda: _cancelled_but_last(pool, s["id"]), timeout=20, what="earlier runs cancelled"
    )
    assert "newer fire" in runs[0]["error"]["message"]


async def _cancelled_but_last(pool, schedule_id):
    runs = await runs_of(pool, schedule_id)
    earlier = runs[:-1]
    return earlier if earlier and all(r["status"] == "cancelled" for r in earlier) else None


async def test_pause_after_failures_in_a_row_tells_the_owner(pool, worker):
    owner = await make_user(pool)
    s = await make_schedule(
        pool, owner, input={"fail": True}, overlap="allow-all", pause_after_failures=2
    )

    async def paused():
        async with pool.connection() as conn:
            row = await (
                await conn.execute("SELECT * FROM schedules WHERE id = %s", (s["id"],))
            ).fetchone()
        return row if row["paused"] else None

    row = await wait_for(paused, timeout=20, what="the schedule to pause itself")
    assert (
        row["paused_note"] == "Paused after 2 failed runs in a row." and row["next_fire_at"] is None
    )
    async with pool.connection() as conn:
        told = await (
            await conn.execute("SELECT title, url FROM notifications WHERE user_id = %s", (owner,))
        ).fetchall()
    assert [n for n in told if "paused" in n["title"] and n["url"] == f"/schedules/{s['id']}"]


async def test_over_the_quota_a_fire_is_skipped_and_the_owner_told_once(pool, worker):
    owner = await make_user(pool, tier="free")  # no workflow runs on Free
    s = await make_schedule(pool, owner, overlap="allow-all")
    await _fires_until(pool, s["id"], lambda f: len(f) >= 3, what="three fires")
    await pause(pool, s["id"])
    made = await fires(pool, s["id"])
    assert {f["outcome"] for f in made} == {"skipped: quota"} and not await runs_of(pool, s["id"])
    async with pool.connection() as conn:
        told = await (
            await conn.execute(
                "SELECT title FROM notifications WHERE user_id = %s AND url = %s",
                (owner, f"/schedules/{s['id']}"),
            )
        ).fetchall()
    assert len(told) == 1 and "skipped" in told[0]["title"]
