"""Engine benchmark: prints the figures of issue 3 in one run, on one fresh database.

    uv run python bench/engine.py            # uses BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded

(a) the floor: single-row INSERT+COMMIT from Python; (b) per-step overhead for N = 10, 100, 1000;
(c) 50 concurrent runs x 10 steps with 1 and 2 worker processes; (d) hook decision -> next step
started; (e) sleep wake lateness; (f) resuming a run with a 1,000-step journal.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import app.workflows.catalog  # noqa: E402,F401
import bench.workflows  # noqa: E402,F401
from app.core.db import open_pool  # noqa: E402
from app.engine.commands import start_run  # noqa: E402
from app.engine.hooks import resolve_hook  # noqa: E402
from bench.support import Workers, bench_database, bench_user, mark, pct  # noqa: E402


async def wait_done(pool, run_ids, timeout=60) -> None:
    deadline = time.monotonic() + timeout
    async with pool.connection() as conn:
        while True:
            row = await (
                await conn.execute(
                    "SELECT count(*) FILTER (WHERE status NOT IN ('completed','failed','cancelled')) AS open, "
                    "count(*) FILTER (WHERE status = 'failed') AS failed FROM runs WHERE id = ANY(%s)",
                    (run_ids,),
                )
            ).fetchone()
            if row["open"] == 0:
                assert row["failed"] == 0, "a benchmark run failed"
                return
            if time.monotonic() > deadline:
                stuck = await (
                    await conn.execute(
                        "SELECT id, status, waiting_for, error FROM runs WHERE id = ANY(%s) AND status NOT IN ('completed','failed','cancelled') LIMIT 3",
                        (run_ids,),
                    )
                ).fetchall()
                raise AssertionError(f"benchmark runs did not finish: {stuck}")
            await asyncio.sleep(0.02)


async def wait_status(pool, run_ids, status) -> None:
    async with pool.connection() as conn:
        while (
            await (
                await conn.execute(
                    "SELECT count(*) AS n FROM runs WHERE id = ANY(%s) AND status <> %s",
                    (run_ids, status),
                )
            ).fetchone()
        )["n"]:
            await asyncio.sleep(0.02)


async def start_many(pool, user, workflow, n, **input) -> list:
    """Start n runs in one transaction, so the workers see the whole burst at once."""
    ids = []
    async with pool.connection() as conn, conn.transaction():
        for _ in range(n):
            run, _ = await start_run(conn, owner_id=user, workflow=workflow, input=input)
            ids.append(run.id)
    return ids


async def floor_ms(pool, n=2000) -> float:
    async with pool.connection() as conn:
        # A logged table like the journal (a temp table skips the WAL flush and flatters the floor).
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, v int)"
        )
        t0 = time.perf_counter()
        for i in range(n):
            await conn.execute("INSERT INTO bench_floor (v) VALUES (%s)", (i,))
        return (time.perf_counter() - t0) * 1000 / n


async def per_step_ms(pool, user, n, total_steps=2000) -> float:
    """Mean time per step inside runs of n sequential no-op steps (first step start to last step end),
    over enough runs, one after another, to count `total_steps` steps."""
    per_run = []
    for _ in range(max(1, total_steps // n)):
        [run_id] = await start_many(pool, user, "selftest", 1, steps=n)
        await wait_done(pool, [run_id])
        async with pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT extract(epoch FROM max(completed_at) - min(started_at)) * 1000 AS ms FROM run_steps "
                    "WHERE run_id = %s",
                    (run_id,),
                )
            ).fetchone()
        per_run.append(float(row["ms"]) / n)
    return statistics.mean(per_run)


async def throughput(pool, user, workers: Workers, n_workers) -> tuple[float, float]:
    """Steps per second over the burst (first step started to last run completed, so the time it
    takes this script to insert the 50 runs one by one is not counted as the engine's), and the
    mean time one run took from creation to completion."""
    workers.start(n_workers)
    try:
        ids = await start_many(pool, user, "selftest", 50, steps=10)
        await wait_done(pool, ids)
    finally:
        workers.stop()
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT extract(epoch FROM max(completed_at) - min(started_at)) AS wall, "
                "avg(extract(epoch FROM completed_at - created_at)) * 1000 AS per_run_ms FROM runs WHERE id = ANY(%s)",
                (ids,),
            )
        ).fetchone()
    return 500 / float(row["wall"]), float(row["per_run_ms"])


async def wait_jobs_idle(pool) -> None:
    """Until the workers have finished the jobs of the last burst (a run shows `waiting` a moment
    before its job is done with), so that a decision measures the engine, not that backlog."""
    async with pool.connection() as conn:
        while (
            await (
                await conn.execute(
                    "SELECT count(*) AS n FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
                )
            ).fetchone()
        )["n"]:
            await asyncio.sleep(0.02)


async def resume_latency(pool, user, n_runs, before=0) -> list[float]:
    ids = await start_many(pool, user, "bench-resume", n_runs, before=before)
    await wait_status(pool, ids, "waiting")
    await wait_jobs_idle(pool)
    lat = []
    async with pool.connection() as conn:
        for run_id in ids:
            token = (
                await (
                    await conn.execute("SELECT token FROM hooks WHERE run_id = %s", (run_id,))
                ).fetchone()
            )["token"]
            await resolve_hook(conn, token, "approve")
            await asyncio.sleep(0.01)
        await wait_done(pool, ids)
        rows = await (
            await conn.execute(
                "SELECT extract(epoch FROM s.started_at - h.decided_at) * 1000 AS ms FROM hooks h "
                "JOIN run_steps s ON s.run_id = h.run_id AND s.name = 'after' WHERE h.run_id = ANY(%s)",
                (ids,),
            )
        ).fetchall()
    lat = [float(r["ms"]) for r in rows]
    return lat


async def wake_lateness(pool, user, n=100) -> list[float]:
    ids = []
    async with pool.connection() as conn:
        for i in range(n):
            run, _ = await start_run(
                conn, owner_id=user, workflow="bench-resume", input={"sleep_s": 1 + (i % 20) * 0.1}
            )
            ids.append(run.id)
    await wait_done(pool, ids)
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT extract(epoch FROM completed_at - wake_at) * 1000 AS ms FROM run_steps "
                "WHERE run_id = ANY(%s) AND kind = 'sleep'",
                (ids,),
            )
        ).fetchall()
    return [float(r["ms"]) for r in rows]


async def main() -> None:
    with bench_database() as url:
        await run_all(url)


async def run_all(url: str) -> None:
    pool = await open_pool(url, min_size=2, max_size=8)
    workers = Workers(url)
    try:
        async with pool.connection() as conn:
            user = await bench_user(conn)
        floor = await floor_ms(pool)
        print(f"(a) floor: single-row INSERT+COMMIT            {floor:.3f} ms")
        workers.start(1)
        steps = {n: await per_step_ms(pool, user, n) for n in (10, 100, 1000)}
        for n, ms in steps.items():
            print(
                f"(b) per-step, N={n:<5}                        {ms:.3f} ms  ({ms / floor:.2f}x floor)"
                f"  {mark(ms <= 2.5 * floor)} target <= 2.5x"
            )
        flat = steps[1000] / steps[10]
        print(
            f"    flatness N=1000 / N=10                     {flat:.2f}x  {mark(flat <= 1.2)} target <= 1.2x"
        )
        d = await resume_latency(pool, user, 100)
        print(
            f"(d) hook decision -> next step started         p50 {pct(d, 50):.1f} ms  p99 {pct(d, 99):.1f} ms"
            f"  {mark(pct(d, 50) <= 10 and pct(d, 99) <= 50)} target p50 <= 10, p99 <= 50"
        )
        e = await wake_lateness(pool, user)
        print(
            f"(e) sleep wake lateness                        p50 {pct(e, 50):.1f} ms  p99 {pct(e, 99):.1f} ms"
            f"  {mark(pct(e, 50) <= 25 and pct(e, 99) <= 100)} target p50 <= 25, p99 <= 100"
        )
        f = await resume_latency(pool, user, 5, before=1000)
        print(
            f"(f) resume with a 1,000-step journal           p50 {pct(f, 50):.1f} ms  max {max(f):.1f} ms"
            f"  {mark(pct(f, 50) <= 20)} target <= 20"
        )
        workers.stop()
        for n in (1, 2):
            rate, per_run = await throughput(pool, user, workers, n)
            print(
                f"(c) 50 runs x 10 steps, {n} worker(s)            {rate:.0f} steps/s  {mark(rate >= 1000)} target >= 1000"
                f"  (a run: {per_run:.0f} ms from start to end)"
            )
    finally:
        workers.stop()
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
