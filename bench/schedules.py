"""Schedules benchmark (issue 18): prints each figure beside a baseline measured in the same run.

    uv run python bench/schedules.py            # BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded
    uv run python bench/schedules.py --burst 2000 --fires 20 --idle-s 20    # a quicker pass
    uv run python bench/schedules.py --statements   # also where the burst's time goes (pg_stat_statements)

(a) N schedules (100 owners) due at the same second: when each fire's run was started (the
    spread, and whether all are within 10 s), by the runs' created_at (their transaction's start)
    and by when they were committed (seen by a poll every 0.25 s); baseline: the same number of runs started directly
    with the engine's start command from one connection.
(b) one 1-second schedule: fire lateness (run started − fire time) p50 / p99; baseline: the
    lateness of durable sleeps waking through the same wake-up path.
(c) idle cost of N schedules not due for a day (each with its own wake-up job): transactions per
    second and `schedules` rows read per second over a quiet window, against the same window with
    no schedules.
Two `baton worker` processes (concurrency 8) load bench/schedule_workflows.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.schedule_workflows  # noqa: E402,F401
import bench.workflows  # noqa: E402,F401
from app.core.db import open_pool  # noqa: E402
from app.engine.commands import start_run  # noqa: E402
from app.schedules import store  # noqa: E402
from app.schedules.drafts import Draft  # noqa: E402
from app.schedules.firing import arm  # noqa: E402
from bench.support import Workers, bench_database, mark, pct  # noqa: E402

OWNERS = 100
BULK_SCHEDULES = """
INSERT INTO schedules (owner_id, name, workflow, input, every_s, anchor_at, next_fire_at)
SELECT o.id, 'bench ' || g, 'bench-tick', '{}', %(every_s)s, %(first)s::timestamptz - make_interval(secs => %(every_s)s),
       %(first)s::timestamptz + make_interval(secs => %(step_s)s * g)
FROM generate_series(0, %(n)s - 1) AS g
JOIN LATERAL (SELECT id FROM users ORDER BY id OFFSET (g %% %(owners)s) LIMIT 1) o ON true
"""
DISTINCT_FIRE_TIMES = "SELECT DISTINCT next_fire_at FROM schedules WHERE next_fire_at IS NOT NULL"
STATS = """
SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()) AS xacts,
       (SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables WHERE relname = 'schedules') AS rows
"""


async def make_owners(pool) -> list[int]:
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "INSERT INTO users (email, tier) SELECT 'bench-' || g || '@example.test', 'enterprise' "
                "FROM generate_series(1, %s) g RETURNING id",
                (OWNERS,),
            )
        ).fetchall()
    return [r["id"] for r in rows]


async def db_now(conn):
    return (await (await conn.execute("SELECT clock_timestamp() AS t")).fetchone())["t"]


async def wait_count(pool, sql: str, args: tuple, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with pool.connection() as conn:
        while (await (await conn.execute(sql, args)).fetchone())["n"] < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {n}: {sql}")
            await asyncio.sleep(1.0)  # the count scans the burst's runs: not too often


async def baseline_starts(pool, owners: list[int], n: int) -> float:
    started = time.perf_counter()
    async with pool.connection() as conn:
        for i in range(n):
            await start_run(conn, owner_id=owners[i % len(owners)], workflow="bench-tick", input={})
    return time.perf_counter() - started


async def burst(pool, owners: list[int], n: int, lead_s: float) -> dict:
    """n schedules whose next fire is the same second, `lead_s` from now."""
    async with pool.connection() as conn:
        first = (await db_now(conn)).replace(microsecond=0) + timedelta(seconds=lead_s)
        async with conn.transaction():
            await conn.execute(
                BULK_SCHEDULES,
                {"n": n, "first": first, "every_s": 86400, "step_s": 0, "owners": len(owners)},
            )
            await arm(conn, first)
    # A run's created_at is its transaction's start; a batch of fires commits later. So the fires'
    # runs are also counted as they become visible (committed), every 0.25 s, for an upper bound.
    seen: list[tuple[float, int]] = []
    deadline = time.monotonic() + lead_s + 1800
    async with pool.connection() as conn:
        while not seen or seen[-1][1] < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {n} fires")
            row = await (
                await conn.execute(
                    "SELECT count(*) AS n, extract(epoch FROM clock_timestamp() - %s) AS after "
                    "FROM schedule_fires WHERE fire_at = %s AND run_id IS NOT NULL",
                    (first, first),
                )
            ).fetchone()
            seen.append((float(row["after"]), row["n"]))
            await asyncio.sleep(0.25)
    committed = {
        q: next(after for after, count in seen if count >= n * q / 100) for q in (50, 99, 100)
    }
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT extract(epoch FROM created_at - fire_at) AS late FROM runs WHERE fire_at = %s",
                (first,),
            )
        ).fetchall()
        doubled = (
            await (
                await conn.execute(
                    "SELECT count(*) AS n FROM (SELECT schedule_id FROM runs WHERE fire_at = %s GROUP BY schedule_id "
                    "HAVING count(*) > 1) d",
                    (first,),
                )
            ).fetchone()
        )["n"]
        await conn.execute("UPDATE schedules SET next_fire_at = NULL, paused = true")
    late = [float(r["late"]) for r in rows]
    return {
        "n": len(late),
        "first": min(late),
        "last": max(late),
        "p50": pct(late, 50),
        "p99": pct(late, 99),
        "doubled": doubled,
        "committed": committed,
    }


async def single_lateness(pool, owner: int, fires: int) -> list[float]:
    async with pool.connection() as conn:
        s = await store.create_schedule(
            conn,
            owner,
            Draft(
                name="tick",
                workflow="bench-tick",
                input={},
                cron=None,
                every_s=1,
                time_zone="UTC",
                overlap="allow-all",
            ),
        )
    await wait_count(
        pool,
        "SELECT count(*) AS n FROM runs WHERE schedule_id = %s",
        (s["id"],),
        fires + 1,
        timeout=fires * 3 + 30,
    )
    async with pool.connection() as conn:
        await store.pause_schedule(conn, s["id"], None)
        rows = await (
            await conn.execute(
                "SELECT extract(epoch FROM created_at - fire_at) * 1000 AS ms FROM runs WHERE schedule_id = %s "
                "ORDER BY fire_at OFFSET 1",
                (s["id"],),
            )
        ).fetchall()  # the first fire can race the schedule's creation
    return [float(r["ms"]) for r in rows]


async def sleep_lateness(pool, owner: int, n: int) -> list[float]:
    """The engine's own wake-up path: durable sleeps of 1-2 s, woken by the same nudger."""
    ids = []
    async with pool.connection() as conn:
        for i in range(n):
            run, _ = await start_run(
                conn, owner_id=owner, workflow="bench-resume", input={"sleep_s": 1 + (i % 10) / 10}
            )
            ids.append(run.id)
            await asyncio.sleep(1.0)  # the count scans the burst's runs: not too often
    await wait_count(
        pool,
        "SELECT count(*) AS n FROM runs WHERE id = ANY(%s) AND status = 'completed'",
        (ids,),
        n,
        60,
    )
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT extract(epoch FROM (SELECT min(started_at) FROM run_steps a WHERE a.run_id = s.run_id AND a.name = 'after')"
                " - s.wake_at) * 1000 AS ms FROM run_steps s WHERE s.run_id = ANY(%s) AND s.name = 'nap'",
                (ids,),
            )
        ).fetchall()
    return [float(r["ms"]) for r in rows if r["ms"] is not None]


async def idle_cost(pool, window_s: float) -> tuple[float, float]:
    async with pool.connection() as conn:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        before = await (await conn.execute(STATS)).fetchone()
        started = time.monotonic()
        await asyncio.sleep(window_s)
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        after = await (await conn.execute(STATS)).fetchone()
    elapsed = time.monotonic() - started
    return (after["xacts"] - before["xacts"]) / elapsed, (after["rows"] - before["rows"]) / elapsed


async def idle_schedules(pool, owners: list[int], n: int) -> int:
    async with pool.connection() as conn:
        first = (await db_now(conn)).replace(microsecond=0) + timedelta(hours=1)
        async with conn.transaction():
            await conn.execute(
                BULK_SCHEDULES,
                {"n": n, "first": first, "every_s": 86400, "step_s": 8.64, "owners": len(owners)},
            )
            for row in await (await conn.execute(DISTINCT_FIRE_TIMES)).fetchall():
                await arm(conn, row["next_fire_at"])
        return (
            await (
                await conn.execute(
                    "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'todo' AND task_name = 'baton.schedules_due'"
                )
            ).fetchone()
        )["n"]


TOP_STATEMENTS = """
SELECT calls, round(total_exec_time::numeric) AS ms, round((total_exec_time / calls)::numeric, 1) AS per_call,
       rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q
FROM pg_stat_statements WHERE query NOT LIKE '%%pg_stat_statements%%' ORDER BY total_exec_time DESC LIMIT 15
"""


async def print_statements(pool) -> None:
    """The burst's statements by total time (waits for locks included), from pg_stat_statements."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(TOP_STATEMENTS)).fetchall()
    print("    the burst's statements by total time: calls, total ms, ms per call, rows, query")
    for r in rows:
        print(f"    {r['calls']:>6} {r['ms']:>8} {r['per_call']:>8} {r['rows']:>7}  {r['q']}")


async def main(args) -> int:
    print(
        "machine load averages (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        if args.statements:  # a throwaway cluster with pg_stat_statements, as bench/load.py
            from bench.load import load_cluster

            os.environ["BENCH_DATABASE_URL"] = stack.enter_context(load_cluster()).url
        url = stack.enter_context(bench_database("baton_bench_sched"))
        if args.statements:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        pool = await open_pool(url, min_size=2, max_size=10)
        workers = Workers(url, modules="bench.schedule_workflows,bench.workflows")
        try:
            owners = await make_owners(pool)
            workers.start(2, concurrency=8)

            # (c) first, on a quiet database: idle cost without, then with, N schedules not due.
            base_x, base_rows = await idle_cost(pool, args.idle_s)
            jobs = await idle_schedules(pool, owners, args.burst)
            await asyncio.sleep(2)  # let the workers settle after the inserts
            idle_x, idle_rows = await idle_cost(pool, args.idle_s)
            print(
                f"(c) idle, {args.burst} schedules not due ({jobs} wake-up jobs waiting): {idle_x:.1f} transactions/s, "
                f"{idle_rows:.1f} schedule rows read/s over {args.idle_s:.0f} s",
                flush=True,
            )
            print(
                f"    baseline: no schedules: {base_x:.1f} transactions/s, {base_rows:.1f} schedule rows read/s",
                flush=True,
            )
            async with pool.connection() as conn:
                await conn.execute("DELETE FROM schedules")
                await conn.execute(
                    "DELETE FROM procrastinate_jobs WHERE task_name = 'baton.schedules_due'"
                )

            # (b) single-schedule lateness, and the sleep baseline.
            late = await single_lateness(pool, owners[0], args.fires)
            sleeps = await sleep_lateness(pool, owners[-1], args.fires)
            print(
                f"(b) one 1-second schedule, {len(late)} fires: lateness p50 {pct(late, 50):.1f} ms, "
                f"p99 {pct(late, 99):.1f} ms [{mark(pct(late, 50) <= 50)} p50 ≤ 50, {mark(pct(late, 99) <= 250)} p99 ≤ 250]",
                flush=True,
            )
            print(
                f"    baseline: durable sleep wake lateness ({len(sleeps)} sleeps) p50 {pct(sleeps, 50):.1f} ms, "
                f"p99 {pct(sleeps, 99):.1f} ms",
                flush=True,
            )

            # (a) the burst, and its baseline (a sample of direct starts: their rate).
            sample = min(args.burst, 1000)
            direct_s = await baseline_starts(pool, owners, sample)
            await asyncio.sleep(3)  # the baseline's advance jobs drain before the burst
            if args.statements:
                async with pool.connection() as conn:
                    await conn.execute("SELECT pg_stat_statements_reset()")
            result = await burst(pool, owners, args.burst, lead_s=args.lead_s)
            print(
                f"(a) {args.burst} schedules due at the same second ({OWNERS} owners): runs started "
                f"{result['first']:.2f}–{result['last']:.2f} s after the fire time (p50 {result['p50']:.2f} s, "
                f"p99 {result['p99']:.2f} s), {result['n']} runs, {result['doubled']} doubled  "
                f"[{mark(result['last'] <= 10)} all within 10 s]"
            )
            c = result["committed"]
            print(
                f"    committed (visible to others, polled every 0.25 s): half by {c[50]:.2f} s, 99% by "
                f"{c[99]:.2f} s, all by {c[100]:.2f} s after the fire time  [{mark(c[100] <= 10)} all within 10 s]"
            )
            print(
                f"    baseline: {sample} runs started directly, one connection: {sample / direct_s:.0f} starts/s "
                f"(the burst: {args.burst / max(result['last'], 1e-9):.0f} fires/s)"
            )
            if args.statements:
                await print_statements(pool)
        finally:
            try:
                workers.stop()
            except subprocess.TimeoutExpired:  # still advancing the burst's runs: not measured
                for proc in workers.procs:
                    proc.kill()
            await pool.close()
    print("machine load averages at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--burst", type=int, default=10_000, help="schedules due at once, and idle (default 10,000)"
    )
    parser.add_argument(
        "--lead-s", type=float, default=15.0, help="seconds from creating the burst to its fire"
    )
    parser.add_argument(
        "--fires", type=int, default=40, help="fires of the single schedule (and sleeps)"
    )
    parser.add_argument("--idle-s", type=float, default=20.0, help="the idle window")
    parser.add_argument(
        "--owners", type=int, default=OWNERS, help="owners the schedules are spread over (1: one)"
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="on a throwaway cluster with pg_stat_statements: print the burst's top statements",
    )
    parsed = parser.parse_args()
    OWNERS = parsed.owners
    sys.exit(asyncio.run(main(parsed)))
