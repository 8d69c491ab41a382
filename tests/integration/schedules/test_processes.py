"""Exactly one run per fire with real processes: two `baton worker`s and two `baton serve
--no-worker`s on one database; a worker SIGKILLed in the middle of a fire; workers down for ten
fires and the catch-up policy deciding what runs when they are back."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from app.core.db import open_pool
from app.core.migrations import apply_migrations
from app.web.auth import api_keys
from tests.conftest import baton_env
from tests.integration.baton_process import baton_serve, scratch_dir
from tests.integration.schedules.helpers import fires, make_schedule, pause, runs_of
from tests.support.engine import job_listeners, make_user
from tests.support.waiting import wait_for

BATON = str(Path(sys.executable).with_name("baton"))
pytestmark = pytest.mark.slow
SECRET = "schedule-process-test-secret"


class Workers:
    """`baton worker` processes on the test's own database, with the schedule test workflow."""

    def __init__(self, url: str, tmp: Path):
        self.url, self.tmp, self.procs, self.logs = url, tmp, [], []

    def start(self, concurrency: int = 4) -> subprocess.Popen:
        log = open(self.tmp / f"worker-{len(self.procs)}.log", "w")  # noqa: SIM115 (closed in stop_all)
        self.logs.append(log)
        proc = subprocess.Popen(
            [BATON, "worker", "--concurrency", str(concurrency)],
            env=baton_env(
                DATABASE_URL=self.url,
                BATON_DATA_DIR=str(self.tmp / "data"),
                BATON_SECRET_KEY=SECRET,
                BATON_WORKFLOW_MODULES="tests.integration.schedules.workflows",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        proc.send_signal(sig)
        proc.wait(20)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.stop(proc)
        for log in self.logs:
            log.close()


@pytest.fixture
async def env(fresh_database, tmp_path):
    url = fresh_database("baton_sched")
    apply_migrations(url)
    pool = await open_pool(url, min_size=1, max_size=6)
    workers = Workers(url, tmp_path)
    try:
        yield url, pool, workers
    finally:
        workers.stop_all()
        await pool.close()


async def listening(pool, n: int) -> None:
    await wait_for(lambda: _at_least_listeners(pool, n), timeout=60, what=f"{n} workers listening")


async def _at_least_listeners(pool, n):
    return await job_listeners(pool) >= n


async def db_now(pool):
    async with pool.connection() as conn:
        return (await (await conn.execute("SELECT clock_timestamp() AS t")).fetchone())["t"]


def one_run_per_fire(made: list[dict], runs: list[dict]) -> None:
    per_fire = Counter(r["fire_at"] for r in runs)
    assert all(n == 1 for n in per_fire.values()), per_fire
    assert sorted(per_fire) == sorted(f["fire_at"] for f in made if f["run_id"])
    assert sorted(str(f["run_id"]) for f in made if f["run_id"]) == sorted(
        str(r["id"]) for r in runs
    )


def consecutive(moments) -> bool:
    moments = sorted(moments)
    return all(b - a == timedelta(seconds=1) for a, b in zip(moments, moments[1:], strict=False))


async def test_two_workers_and_two_web_processes_make_one_run_per_fire(env):
    url, pool, workers = env
    owner = await make_user(pool)
    async with pool.connection() as conn:
        key, _ = await api_keys.create_key(conn, owner, "tests")
    headers = {"Authorization": f"Bearer {key}"}
    workers.start()
    workers.start()
    await listening(pool, 2)
    serve_env = {"DATABASE_URL": url, "BATON_SECRET_KEY": SECRET}
    with (
        scratch_dir() as one,
        scratch_dir() as two,
        baton_serve(one, "--no-worker", BATON_DATA_DIR=str(one / "data"), **serve_env) as web_a,
        baton_serve(two, "--no-worker", BATON_DATA_DIR=str(two / "data"), **serve_env) as web_b,
    ):
        async with httpx.AsyncClient(headers=headers, timeout=30) as http:
            created = await http.post(
                f"{web_a.url}/api/v1/schedules",
                json={
                    "workflow": "content-generation",
                    "input": {"prompt": "a line a second"},
                    "every": "1s",
                    "overlap": "allow-all",
                    "name": "every second",
                },
            )
            assert created.status_code == 201, created.text
            schedule_id = created.json()["id"]
            # Run now from both web processes while the workers fire: separate fires, one run each.
            for web in (web_a, web_b):
                fired = await http.post(f"{web.url}/api/v1/schedules/{schedule_id}/trigger")
                assert fired.status_code == 201, fired.text
            await wait_for(
                lambda: _scheduled_at_least(pool, schedule_id, 6),
                timeout=60,
                what="six scheduled fires",
            )
            assert (
                await http.post(f"{web_b.url}/api/v1/schedules/{schedule_id}/pause", json={})
            ).status_code == 200
    made = await fires(pool, schedule_id)
    runs = await runs_of(pool, schedule_id)
    one_run_per_fire(made, runs)
    scheduled = [f["fire_at"] for f in made if f["kind"] == "scheduled"]
    assert consecutive(scheduled), scheduled
    assert all(f["outcome"] == "started" for f in made)
    assert sum(f["kind"] == "manual" for f in made) == 2


async def _scheduled_at_least(pool, schedule_id, n):
    return sum(f["kind"] == "scheduled" for f in await fires(pool, schedule_id)) >= n


WAITING_ON_LOCK = """
SELECT count(*) AS n FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%%FROM spaces%%'
"""


async def test_a_worker_killed_while_starting_a_fire_loses_and_doubles_nothing(env):
    url, pool, workers = env
    owner = await make_user(pool)
    doomed = workers.start()
    await listening(pool, 1)
    s = await make_schedule(pool, owner, overlap="allow-all", catch_up="all")
    await wait_for(lambda: _count_at_least(pool, s["id"], 2), timeout=30, what="two fires")
    # Hold the row of the space the runs start in (the owner's personal space): the next fire's
    # start waits on it inside its transaction.
    async with await psycopg.AsyncConnection.connect(url) as blocker:
        await blocker.execute("SELECT id FROM spaces WHERE personal_of = %s FOR UPDATE", (owner,))
        await wait_for(lambda: _waiting(pool), timeout=20, what="a fire blocked mid-start")
        workers.stop(doomed)  # SIGKILL, mid-fire
        await blocker.rollback()
    restarted_at = await db_now(pool)
    workers.start()
    # The lost fire is found by the survivor (its recovery sweep), and fires resume after it.
    await wait_for(
        lambda: _fired_after(pool, s["id"], restarted_at + timedelta(seconds=2)),
        timeout=90,
        what="fires after the restart",
    )
    await pause(pool, s["id"])
    made = await fires(pool, s["id"])
    one_run_per_fire(made, await runs_of(pool, s["id"]))
    assert consecutive([f["fire_at"] for f in made]), "a fire was lost"
    assert all(f["run_id"] for f in made)


async def _count_at_least(pool, schedule_id, n):
    return len(await fires(pool, schedule_id)) >= n


async def _waiting(pool):
    async with pool.connection() as conn:
        return (await (await conn.execute(WAITING_ON_LOCK)).fetchone())["n"] > 0


async def _fired_after(pool, schedule_id, moment):
    """A regular fire (not a catch-up of the past) after `moment`: the schedule is on time again."""
    return any(
        f["fire_at"] > moment and f["kind"] == "scheduled" for f in await fires(pool, schedule_id)
    )


async def test_catch_up_after_workers_were_down_for_ten_fires(env):
    url, pool, workers = env
    owner = await make_user(pool)
    first = workers.start()
    await listening(pool, 1)
    schedules = {
        policy: await make_schedule(pool, owner, name=policy, overlap="allow-all", catch_up=policy)
        for policy in ("latest", "all", "none")
    }
    for s in schedules.values():
        await wait_for(
            lambda s=s: _count_at_least(pool, s["id"], 2), timeout=30, what="two fires each"
        )
    workers.stop(first, signal.SIGTERM)
    stopped_at = await db_now(pool)
    await wait_for(
        lambda: _db_time_past(pool, stopped_at + timedelta(seconds=10.5)),
        timeout=30,
        what="ten fires' time without workers",
    )
    restarted_at = await db_now(pool)
    workers.start()
    for s in schedules.values():
        await wait_for(
            lambda s=s: _fired_after(pool, s["id"], restarted_at + timedelta(seconds=1)),
            timeout=60,
            what="fires after the restart",
        )
        await pause(pool, s["id"])
    made = {policy: await fires(pool, s["id"]) for policy, s in schedules.items()}
    for policy, s in schedules.items():
        one_run_per_fire(made[policy], await runs_of(pool, s["id"]))
    caught_up = {
        policy: [f for f in rows if f["kind"] == "catch-up"] for policy, rows in made.items()
    }
    missed_all = [f["fire_at"] for f in caught_up["all"]]
    assert len(caught_up["latest"]) == 1
    assert len(missed_all) >= 10 and consecutive(missed_all)
    back = [
        f["fire_at"] for f in made["all"] if f["kind"] == "scheduled" and f["fire_at"] > stopped_at
    ]
    assert back and back[0] - max(missed_all) == timedelta(
        seconds=1
    )  # then on time again, nothing lost between
    assert caught_up["none"] == []
    gaps = [
        b["fire_at"] - a["fire_at"] for a, b in zip(made["none"], made["none"][1:], strict=False)
    ]
    assert max(gaps) >= timedelta(seconds=10), "nothing ran for the time the workers were down"
    # `latest` ran the most recent missed fire: the one just before its first regular fire after the restart.
    latest = caught_up["latest"][0]["fire_at"]
    after = [f["fire_at"] for f in made["latest"] if f["fire_at"] > latest]
    assert (
        after
        and after[0] - latest == timedelta(seconds=1)
        and latest > stopped_at + timedelta(seconds=9)
    )


async def _db_time_past(pool, moment):
    return await db_now(pool) > moment
