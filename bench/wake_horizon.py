"""The workers' job fetch and the idle database with tens of thousands of suspended runs, with every
wake-up queued as a job (as the engine did before issue 14's wake horizon) and without.

    uv run python bench/wake_horizon.py [--sleeping 5000] [--waiting 30000] [--idle-s 60]

It owns a throwaway PostgreSQL cluster with pg_stat_statements (bench/load.py's), seeds the
suspended runs (a hook with a timeout for each waiting one), queues each run's job at its wake-up
time (the row baton_wake_run inserts, in bulk: called 35,000 times in one statement its cached
plan goes quadratic on a table that was empty when planned), then measures:

- Procrastinate's `procrastinate_fetch_job_v2` (in a transaction rolled back), when no job is ready
  (most fetches of an idle or lightly used worker: its poll every 5 s, each nudge) and when one
  job queued after the suspended ones is ready;
- a minute of one idle `baton worker`: statements per second and database time per second
  (pg_stat_statements), the busiest statements (also before seeding, on the empty database);

then applies the change as an upgrade does (migration 0110's DELETEs: far-off jobs leave the job
table), times the waker's pass, and measures the same again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.db import open_pool  # noqa: E402
from app.core.migrations import apply_migrations  # noqa: E402
from app.engine.jobs import queue_due_wakeups  # noqa: E402
from bench.load import idle_queries, load_cluster  # noqa: E402
from bench.support import Workers  # noqa: E402

SEED = """
WITH ins AS (
    INSERT INTO runs (owner_id, workflow, version, title, status, input, waiting_for, wake_at, started_at, updated_at)
    SELECT %(owner)s, 'bench-resume', 1, 'seeded', CASE WHEN g <= %(sleeping)s THEN 'sleeping' ELSE 'waiting' END,
           '{}', CASE WHEN g <= %(sleeping)s THEN 'nap' ELSE 'gate' END,
           now() + interval '10 minutes' + g * interval '20 seconds',
           now() - interval '1 minute', now() - interval '1 minute'
    FROM generate_series(1, %(n)s) g
    RETURNING id, owner_id, status, wake_at
), hooks AS (
    INSERT INTO hooks (run_id, seq, owner_id, token, name, kind, actions, expires_at)
    SELECT id, 0, owner_id, md5(id::text), 'gate', 'approval', ARRAY['approve', 'reject'], wake_at
    FROM ins WHERE status = 'waiting'
)
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
SELECT 'baton', 'baton.advance_run', 0, 'run:' || id, 'run:' || id, jsonb_build_object('run_id', id), wake_at
FROM ins
"""
FETCH = "SELECT id FROM procrastinate_fetch_job_v2(ARRAY['baton'], NULL)"
READY_JOB = (
    "INSERT INTO procrastinate_jobs (queue_name, task_name, args) "
    "VALUES ('baton', 'baton.send_mail', '{}')"
)
FUTURE_JOBS = (
    "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'todo' AND scheduled_at > now()"
)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def fetch_ms(url: str, ready: bool, repeat: int = 40) -> float:
    times = []
    with psycopg.connect(url) as conn:
        for _ in range(repeat):
            if ready:
                conn.execute(READY_JOB)
            t0 = time.perf_counter()
            found = conn.execute(FETCH).fetchone()[0]
            times.append((time.perf_counter() - t0) * 1000)
            conn.rollback()
            assert (found is not None) == ready, found
    return statistics.median(times)


async def measure(label: str, url: str, idle_s: float) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE procrastinate_jobs")
        future = conn.execute(FUTURE_JOBS).fetchone()[0]
    print(f"[{label}] load {load()}  future jobs in procrastinate_jobs: {future:,}")
    print(
        f"[{label}] job fetch, none ready: {fetch_ms(url, False):.2f} ms"
        f"   one ready: {fetch_ms(url, True):.2f} ms   (median of 40)  load {load()}"
    )
    workers = Workers(url)
    workers.start(1)
    try:
        await asyncio.sleep(15)  # start-up sweep and first passes done
        per_s, top = await idle_queries(url, idle_s)
        with psycopg.connect(url, autocommit=True) as conn:
            ms = conn.execute(
                "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements "
                "WHERE query NOT LIKE '%%pg_stat_statements%%'"
            ).fetchone()[0]
        print(
            f"[{label}] idle {idle_s:.0f} s, 1 worker: {per_s:.1f} statements/s,"
            f" database time {ms / idle_s:.2f} ms/s  load {load()}"
        )
        for row in top:
            print(f"      {row['calls']:>6} calls {row['total_exec_time']:9.1f} ms  {row['q']}")
    finally:
        workers.stop()


async def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sleeping", type=int, default=5000)
    parser.add_argument("--waiting", type=int, default=30000)
    parser.add_argument("--idle-s", type=float, default=60)
    args = parser.parse_args()
    with load_cluster() as cluster:
        if not cluster.statements:
            print("(no pg_stat_statements on this machine: idle figures are missing)")
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        url = cluster.url_for("bench")
        apply_migrations(url)
        with psycopg.connect(url, autocommit=True) as conn:
            if cluster.statements:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await measure("no suspended runs", url, args.idle_s)
        with psycopg.connect(url, autocommit=True) as conn:
            owner = conn.execute(
                "INSERT INTO users (email, tier) VALUES ('bench@example.test', 'enterprise') RETURNING id"
            ).fetchone()[0]
            n = args.sleeping + args.waiting
            conn.execute(SEED, {"owner": owner, "sleeping": args.sleeping, "n": n})
            conn.execute("VACUUM ANALYZE")
        print(
            f"{args.sleeping:,} sleeping + {args.waiting:,} waiting runs, due in 10 min to 8 days"
        )

        await measure("every wake-up a job", url, args.idle_s)

        # The upgrade: migration 0110's DELETEs (already applied to the empty database).
        migration = (ROOT / "sql" / "0110_wake_horizon.sql").read_text()
        deletes = re.findall(r"^DELETE .*?;", migration, flags=re.S | re.M)
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in deletes:
                conn.execute(statement)
        pool = await open_pool(url, min_size=1, max_size=2)
        try:
            async with pool.connection() as conn:
                passes = []
                for _ in range(20):
                    t0 = time.perf_counter()
                    await queue_due_wakeups(conn)
                    passes.append((time.perf_counter() - t0) * 1000)
        finally:
            await pool.close()
        print(f"[wake horizon] the waker's pass: {statistics.median(passes):.2f} ms (median of 20)")
        await measure("wake horizon", url, args.idle_s)


if __name__ == "__main__":
    asyncio.run(main())
