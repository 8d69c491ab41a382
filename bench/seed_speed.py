"""How fast bench/load.py seeds finished runs: both ways on one throwaway cluster (issue 14).

    uv run python bench/seed_speed.py --runs 4000

`step`: the engine's write_step per step (20 statements per run, sent in a pipeline), 500 runs per
transaction. `set`: each batch's journals in one statement (bench/load.sql `write_journals`), 2,000
runs per transaction. Both: insert_runs and finish_run per batch. Prints runs/s, journal rows/s and
the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.migrations import apply_migrations  # noqa: E402
from bench.load import load_cluster, seed  # noqa: E402


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=4000)
    args = parser.parse_args()
    with load_cluster() as cluster:
        for method in ("step", "set"):
            with psycopg.connect(cluster.url, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE seed_{method}")
            url = cluster.url_for(f"seed_{method}")
            apply_migrations(url)
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            cfg = {"users": 20, "finished": args.runs, "waiting": 0, "sleeping": 0, "seed": method}
            seeded = await seed(url, cfg)
            s = seeded["finished_s"]
            print(
                f"{method}: {args.runs:,} finished runs in {s:.1f} s = {args.runs / s:,.0f} runs/s, "
                f"{args.runs * 20 / s:,.0f} journal rows/s (whole seed {time.perf_counter() - t0:.1f} s; "
                f"load average {load:.1f} -> {os.getloadavg()[0]:.1f})"
            )


if __name__ == "__main__":
    asyncio.run(main())
