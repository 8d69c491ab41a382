"""What a step costs on this machine, and per 1,000 steps on a named VM (issue 14).

    uv run python bench/step_cost.py                     # 6 and 60 steps/s for 60 s each, then flat out
    uv run python bench/step_cost.py --seconds 10        # quick

A throwaway cluster (bench/load.py's), one `baton worker` (concurrency 8), runs of 20 no-op steps
(`selftest`) started through `start_run` at a steady rate: the month's average (15M steps / 30 days
~ 6 steps/s) and its 10x peak. CPU is counted for every process doing the work — the worker and
all of PostgreSQL's (the postmaster's children) — from /proc, so other load on the shared machine
is not counted; the machine share is that CPU over the machine's cores. Then flat out: 100 runs
at once, steps/s until all finish (the capacity).

Cost per 1,000 steps = the VM's price per second / steps per second, two ways: at the month's
volume (the VM paid for the whole month, whatever it does) and at the rate this machine sustains
below 10 % use. The VM price is a constant below, with its source; Vercel Workflow's is $0.60 per
1,000 steps past the first million.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.migrations import apply_migrations  # noqa: E402
from bench.chaos import Proc  # noqa: E402
from bench.load import baton_env, cpu_rss, load_cluster  # noqa: E402

# AWS EC2 on-demand list price, c6i.large (2 vCPU, 4 GiB), Linux, us-east-1:
# https://aws.amazon.com/ec2/pricing/on-demand/ (as known to the author; not re-checked here: no network)
VM = "AWS EC2 c6i.large (2 vCPU, 4 GiB), on demand, us-east-1"
VM_USD_PER_HOUR = 0.085
VERCEL_USD_PER_1000 = 0.60
MONTH_STEPS = 15_000_000
STEPS_PER_RUN = 20


def postgres_cpu(pgdata: Path) -> float:
    """CPU seconds of the postmaster and every child of it (backends, walwriter, checkpointer...)."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    total = cpu_rss(postmaster)[0]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == postmaster:
                total += cpu_rss(int(entry.name))[0]
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return total


async def steps_done(conn) -> int:
    return (await (await conn.execute("SELECT count(*) AS n FROM run_steps")).fetchone())["n"]


async def start_runs(conn, owner: int, n: int) -> None:
    from app.engine.commands import start_run

    async with conn.transaction():
        for _ in range(n):
            await start_run(
                conn, owner_id=owner, workflow="selftest", input={"steps": STEPS_PER_RUN}
            )


async def steady(conn, owner: int, rate: float, seconds: float, worker: Proc, pgdata: Path):
    """Start runs for `rate` steps/s for `seconds`; CPU of worker + PostgreSQL over that window."""
    await wait_idle(conn)
    done0, cpu0 = await steps_done(conn), cpu_rss(worker.proc.pid)[0] + postgres_cpu(pgdata)
    t0 = time.monotonic()
    interval, n = STEPS_PER_RUN / rate, 0
    while time.monotonic() < t0 + seconds:
        await start_runs(conn, owner, 1)
        n += 1
        await asyncio.sleep(max(0.0, t0 + n * interval - time.monotonic()))
    await wait_idle(conn)
    elapsed = time.monotonic() - t0
    cpu = cpu_rss(worker.proc.pid)[0] + postgres_cpu(pgdata) - cpu0
    steps = await steps_done(conn) - done0
    return steps, elapsed, cpu


async def wait_idle(conn, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = await (
            await conn.execute(
                "SELECT count(*) AS n FROM runs WHERE status IN ('queued', 'running')"
            )
        ).fetchone()
        if row["n"] == 0:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("runs still unfinished")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rates", type=float, nargs="+", default=[6, 60])
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    cores = os.cpu_count() or 1
    print(f"step cost: {vars(args)}, {cores} cores; load average {os.getloadavg()}")
    from app.web.auth.accounts import create_account

    with load_cluster() as cluster:
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE cost")
        url = cluster.url_for("cost")
        apply_migrations(url)
        workdir = Path(tempfile.mkdtemp(prefix="baton-cost-"))
        worker = Proc("worker", ["worker", "--concurrency", "8"], baton_env(url, workdir), workdir)
        worker.start()
        try:
            async with await psycopg.AsyncConnection.connect(
                url, row_factory=dict_row, autocommit=True
            ) as conn:
                while not worker.registered:
                    if not worker.alive:
                        raise RuntimeError(worker.tail())
                    await asyncio.sleep(0.2)
                owner = (await create_account(conn, "cost@load.test", "x", tier="enterprise")).id
                await start_runs(conn, owner, 5)  # warm up imports and caches
                await wait_idle(conn)
                per_step = 0.0
                for rate in args.rates:
                    steps, elapsed, cpu = await steady(
                        conn, owner, rate, args.seconds, worker, cluster.pgdata
                    )
                    print(
                        f"steady {rate:g} steps/s offered: {steps / elapsed:.1f} steps/s done, "
                        f"worker + PostgreSQL CPU {cpu / elapsed:.3f} cores = "
                        f"{cpu / elapsed / cores:.1%} of the machine, {cpu / steps * 1000:.2f} ms CPU per step"
                    )
                    per_step = cpu / steps  # the highest steady rate's: fixed costs spread thinnest
                done0 = await steps_done(conn)
                cpu0 = cpu_rss(worker.proc.pid)[0] + postgres_cpu(cluster.pgdata)
                t0 = time.monotonic()
                await start_runs(conn, owner, 100)
                await wait_idle(conn)
                elapsed = time.monotonic() - t0
                cpu = cpu_rss(worker.proc.pid)[0] + postgres_cpu(cluster.pgdata) - cpu0
                steps = await steps_done(conn) - done0
                capacity = steps / elapsed
                print(
                    f"flat out (100 runs x {STEPS_PER_RUN} at once): {capacity:.0f} steps/s, "
                    f"worker + PostgreSQL {cpu / elapsed:.2f} cores, {cpu / steps * 1000:.2f} ms CPU per step"
                )
        finally:
            worker.stop()
    per_s = VM_USD_PER_HOUR / 3600
    month_s = 30 * 86400
    at_month = per_s * month_s / MONTH_STEPS * 1000
    ten_percent_rate = 0.10 * cores / per_step
    at_ten_percent = per_s / ten_percent_rate * 1000
    print(
        f"cost per 1,000 steps on {VM} at ${VM_USD_PER_HOUR}/h: ${at_month:.4f} at the month's volume "
        f"(15M steps, VM paid all month: ${per_s * month_s:.2f}); ${at_ten_percent:.6f} at the rate that uses 10 % "
        f"of the machine ({ten_percent_rate:.0f} steps/s at the last steady rate's CPU per step; flat out "
        f"{capacity:.0f}); Vercel Workflow ${VERCEL_USD_PER_1000:.2f} "
        f"({VERCEL_USD_PER_1000 / at_month:,.0f}x the month's figure). Load average {os.getloadavg()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
