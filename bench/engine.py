"""Engine benchmark: prints the figures of issue 3 in one run, on one fresh database.

    uv run python bench/engine.py            # uses BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded

(a) the floor: single-row INSERT+COMMIT from Python; (b) per-step overhead for N = 10, 100, 1000;
(c) 50 concurrent runs x 10 steps with 1 and 2 worker processes; (d) hook decision -> next step
started; (e) sleep wake lateness; (f) resuming a run with a 1,000-step journal.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import app.workflows.catalog  # noqa: E402,F401
import bench.workflows  # noqa: E402,F401
from app.core.db import open_pool  # noqa: E402
from app.core.embedded_pg import EmbeddedPostgres  # noqa: E402
from app.core.migrations import apply_migrations  # noqa: E402
from app.engine.commands import start_run  # noqa: E402
from app.engine.hooks import resolve_hook  # noqa: E402

BATON = str(Path(sys.executable).with_name("baton"))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def mark(ok: bool) -> str:
    return "ok " if ok else "MISS"


class Workers:
    def __init__(self, url: str):
        self.url, self.procs, self.tmp = url, [], tempfile.mkdtemp()

    def start(self, n: int, concurrency: int = 8) -> None:
        env = {**os.environ, "DATABASE_URL": self.url, "BATON_DATA_DIR": self.tmp, "BATON_SECRET_KEY": "bench-secret-key-000",
               "BATON_WORKFLOW_MODULES": "bench.workflows"}
        for _ in range(n):
            self.procs.append(subprocess.Popen([BATON, "worker", "--concurrency", str(concurrency)], env=env,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(2.0)  # imports and worker registration

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(20)
        self.procs = []


async def wait_done(pool, run_ids, timeout=60) -> None:
    deadline = time.monotonic() + timeout
    async with pool.connection() as conn:
        while True:
            row = await (await conn.execute(
                "SELECT count(*) FILTER (WHERE status NOT IN ('completed','failed','cancelled')) AS open, "
                "count(*) FILTER (WHERE status = 'failed') AS failed FROM runs WHERE id = ANY(%s)", (run_ids,))).fetchone()
            if row["open"] == 0:
                assert row["failed"] == 0, "a benchmark run failed"
                return
            if time.monotonic() > deadline:
                stuck = await (await conn.execute("SELECT id, status, waiting_for, error FROM runs WHERE id = ANY(%s) AND status NOT IN ('completed','failed','cancelled') LIMIT 3", (run_ids,))).fetchall()
                raise AssertionError(f"benchmark runs did not finish: {stuck}")
            await asyncio.sleep(0.02)


async def wait_status(pool, run_ids, status) -> None:
    async with pool.connection() as conn:
        while (await (await conn.execute("SELECT count(*) AS n FROM runs WHERE id = ANY(%s) AND status <> %s",
                                         (run_ids, status))).fetchone())["n"]:
            await asyncio.sleep(0.02)


async def start_many(pool, user, workflow, n, **input) -> list:
    ids = []
    async with pool.connection() as conn:
        for _ in range(n):
            run, _ = await start_run(conn, owner_id=user, workflow=workflow, input=input)
            ids.append(run["id"])
    return ids


async def floor_ms(pool, n=2000) -> float:
    async with pool.connection() as conn:
        # A logged table like the journal (a temp table skips the WAL flush and flatters the floor).
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, v int)")
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
            row = await (await conn.execute(
                "SELECT extract(epoch FROM max(completed_at) - min(started_at)) * 1000 AS ms FROM run_steps "
                "WHERE run_id = %s", (run_id,))).fetchone()
        per_run.append(float(row["ms"]) / n)
    return statistics.mean(per_run)


async def throughput(pool, user, workers: Workers, n_workers) -> float:
    workers.start(n_workers)
    try:
        ids = await start_many(pool, user, "selftest", 50, steps=10)
        t0 = time.perf_counter()
        await wait_done(pool, ids)
        wall = time.perf_counter() - t0
    finally:
        workers.stop()
    return 500 / wall


async def resume_latency(pool, user, n_runs, before=0) -> list[float]:
    ids = await start_many(pool, user, "bench-resume", n_runs, before=before)
    await wait_status(pool, ids, "waiting")
    lat = []
    async with pool.connection() as conn:
        for run_id in ids:
            token = (await (await conn.execute("SELECT token FROM hooks WHERE run_id = %s", (run_id,))).fetchone())["token"]
            await resolve_hook(conn, token, "approve")
            await asyncio.sleep(0.01)
        await wait_done(pool, ids)
        rows = await (await conn.execute(
            "SELECT extract(epoch FROM s.started_at - h.decided_at) * 1000 AS ms FROM hooks h "
            "JOIN run_steps s ON s.run_id = h.run_id AND s.name = 'after' WHERE h.run_id = ANY(%s)", (ids,))).fetchall()
    lat = [float(r["ms"]) for r in rows]
    return lat


async def wake_lateness(pool, user, n=100) -> list[float]:
    ids = []
    async with pool.connection() as conn:
        for i in range(n):
            run, _ = await start_run(conn, owner_id=user, workflow="bench-resume", input={"sleep_s": 1 + (i % 20) * 0.1})
            ids.append(run["id"])
    await wait_done(pool, ids)
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT extract(epoch FROM completed_at - wake_at) * 1000 AS ms FROM run_steps "
            "WHERE run_id = ANY(%s) AND kind = 'sleep'", (ids,))).fetchall()
    return [float(r["ms"]) for r in rows]


async def main() -> None:
    server_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    embedded = None
    if not server_url:
        embedded = EmbeddedPostgres(Path(tempfile.mkdtemp()))
        server_url = embedded.start()
    name = f"baton_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    apply_migrations(url)
    pool = await open_pool(url, min_size=2, max_size=8)
    workers = Workers(url)
    try:
        async with pool.connection() as conn:
            user = (await (await conn.execute(
                "INSERT INTO users (email, tier) VALUES ('bench@example.test', 'enterprise') RETURNING id")).fetchone())["id"]
        floor = await floor_ms(pool)
        print(f"(a) floor: single-row INSERT+COMMIT            {floor:.3f} ms")
        workers.start(1)
        steps = {n: await per_step_ms(pool, user, n) for n in (10, 100, 1000)}
        for n, ms in steps.items():
            print(f"(b) per-step, N={n:<5}                        {ms:.3f} ms  ({ms / floor:.2f}x floor)"
                  f"  {mark(ms <= 2.5 * floor)} target <= 2.5x")
        flat = steps[1000] / steps[10]
        print(f"    flatness N=1000 / N=10                     {flat:.2f}x  {mark(flat <= 1.2)} target <= 1.2x")
        d = await resume_latency(pool, user, 100)
        print(f"(d) hook decision -> next step started         p50 {pct(d, 50):.1f} ms  p99 {pct(d, 99):.1f} ms"
              f"  {mark(pct(d, 50) <= 10 and pct(d, 99) <= 50)} target p50 <= 10, p99 <= 50")
        e = await wake_lateness(pool, user)
        print(f"(e) sleep wake lateness                        p50 {pct(e, 50):.1f} ms  p99 {pct(e, 99):.1f} ms"
              f"  {mark(pct(e, 50) <= 25 and pct(e, 99) <= 100)} target p50 <= 25, p99 <= 100")
        f = await resume_latency(pool, user, 5, before=1000)
        print(f"(f) resume with a 1,000-step journal           p50 {pct(f, 50):.1f} ms  max {max(f):.1f} ms"
              f"  {mark(pct(f, 50) <= 20)} target <= 20")
        workers.stop()
        for n in (1, 2):
            rate = await throughput(pool, user, workers, n)
            print(f"(c) 50 runs x 10 steps, {n} worker(s)            {rate:.0f} steps/s  {mark(rate >= 1000)} target >= 1000")
    finally:
        workers.stop()
        await pool.close()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if embedded:
            embedded.stop()


if __name__ == "__main__":
    asyncio.run(main())
