"""Deploy check benchmark: `baton check-deploy` over 10,000 waiting runs with 20-step journals.

    uv run python bench/check_deploy.py [--runs 10000]   # BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded

Runs are written straight into a fresh database (20 completed steps of ~0.5 kB output each and a
waiting approval per run, as `bench-review` in bench/deploy_workflows.py journals them), then the
real command runs as a subprocess. Printed beside it, measured in the same run: the same command
on the same database with no run in flight (process start-up, imports, connecting), and the read
alone (the same server-side cursor, no replay) — what the database and the transfer cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

from app.engine.deploy_check import BATCH, IN_FLIGHT_RUNS  # noqa: E402
from bench.deploy_workflows import SECTIONS  # noqa: E402
from bench.support import BATON, bench_database  # noqa: E402

SEED = """
WITH owner AS (SELECT id FROM users WHERE email = 'bench-deploy@example.test'),
made AS (
    INSERT INTO runs (owner_id, workflow, version, title, status, input, started_at, waiting_for)
    SELECT owner.id, 'bench-review', 1, 'Bench review ' || g, 'waiting', jsonb_build_object('topic', 'topic ' || g),
           now(), 'approve'
    FROM owner, generate_series(1, %(runs)s) g
    RETURNING id
), steps AS (
    INSERT INTO run_steps (run_id, seq, name, kind, status, attempts, output, completed_at)
    SELECT made.id, s, 'section ' || (s + 1), 'step', 'completed', 1,
           jsonb_build_object('title', 'topic: part ' || (s + 1), 'text', repeat('lorem ipsum ', 40)), now()
    FROM made, generate_series(0, %(sections)s - 1) s
)
INSERT INTO run_steps (run_id, seq, name, kind, status) SELECT made.id, %(sections)s, 'approve', 'hook', 'waiting' FROM made
"""


def check_deploy(url: str, **env: str) -> dict:
    """The real command; its wall time, its peak RSS and its JSON."""
    environ = {
        **os.environ,
        "DATABASE_URL": url,
        "BATON_DATA_DIR": tempfile.mkdtemp(),
        "BATON_SECRET_KEY": "bench-secret-key-000",
        "BATON_WORKFLOW_MODULES": "bench.deploy_workflows",
        **env,
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        [BATON, "check-deploy", "--json"],
        env=environ,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()))
    reader.start()
    out = proc.stdout.read()
    reader.join()
    # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would be the largest child's so far).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    peak_mb = usage.ru_maxrss / 1024
    assert proc.returncode in (0, 1), err[0]
    return {"wall_s": wall, "peak_mb": peak_mb, "exit": proc.returncode, **json.loads(out)}


async def read_only(url: str) -> tuple[float, int, int]:
    """The read alone: every in-flight run and its journal through the check's cursor, no replay."""
    started = time.perf_counter()
    rows = entries = 0
    async with (
        await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn,
        conn.transaction(),
    ):
        await conn.execute("SET TRANSACTION READ ONLY")
        async with conn.cursor("bench_read", row_factory=dict_row) as cur:
            await cur.execute(IN_FLIGHT_RUNS)
            while batch := await cur.fetchmany(BATCH):
                rows += len(batch)
                entries += sum(len(r["journal"]) for r in batch)
    return time.perf_counter() - started, rows, entries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    print(
        f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min), "
        f"{os.cpu_count()} cores"
    )
    with bench_database("baton_bench_deploy") as url:
        empty = check_deploy(url)
        t0 = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            # The owner first, in its own statement: its personal space is made when that one ends.
            conn.execute("INSERT INTO users (email) VALUES ('bench-deploy@example.test')")
            conn.execute(SEED, {"runs": args.runs, "sections": SECTIONS})
            conn.execute("ANALYZE runs; ANALYZE run_steps")
            size = conn.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('run_steps'))"
            ).fetchone()[0]
        print(
            f"seeded {args.runs} waiting runs x {SECTIONS} steps + 1 hook in {time.perf_counter() - t0:.1f} s "
            f"(run_steps: {size})"
        )
        read_s, rows, entries = asyncio.run(read_only(url))
        safe = check_deploy(url)
        broken = check_deploy(url, BENCH_RENAME_LAST_STEP="1")
    assert (
        empty["runs_checked"] == 0
        and safe["runs_checked"] == rows == args.runs
        and safe["runs_at_risk"] == 0
    )
    assert broken["runs_at_risk"] == args.runs and broken["exit"] == 1
    print()
    print(
        "| What | Runs checked | Journal entries | Wall (process) | Inside the command | Peak RSS |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| baseline: check-deploy, no run in flight | 0 | 0 | {empty['wall_s']:.2f} s | {empty['seconds']:.2f} s "
        f"| {empty['peak_mb']:.0f} MB |"
    )
    print(
        f"| baseline: the read alone (cursor, batches of {BATCH}, no replay) | {rows} | {entries} | — "
        f"| {read_s:.2f} s | — |"
    )
    print(
        f"| check-deploy, code unchanged: none at risk | {safe['runs_checked']} | {entries} | {safe['wall_s']:.2f} s "
        f"| {safe['seconds']:.2f} s | {safe['peak_mb']:.0f} MB |"
    )
    print(
        f"| check-deploy, last step renamed: all at risk | {broken['runs_checked']} | {entries} "
        f"| {broken['wall_s']:.2f} s | {broken['seconds']:.2f} s | {broken['peak_mb']:.0f} MB |"
    )
    per_run_ms = (safe["seconds"] - read_s) / max(rows, 1) * 1000
    print(
        f"\nreplay cost beyond the read: {per_run_ms:.3f} ms per run; budget: 10,000 runs in < 60 s"
    )


if __name__ == "__main__":
    main()
