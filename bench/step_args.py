"""What journaling a step's arguments (`detail.args`, app/engine/journal.py `step_args`) costs per
step, against the same steps with it turned off, in one run on one fresh database:

    uv run python bench/step_args.py        # uses BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded

Runs of 200 sequential steps, each given a small argument (a 100-byte dict) or a large one (a
100 KB string, cut to 2,000 characters in the journal), executed by an in-process worker; the
variants alternate so the machine's load hits both alike.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402

import worker.tasks  # noqa: E402,F401
from app.core.db import open_pool  # noqa: E402
from app.engine import journal  # noqa: E402
from app.engine.registry import workflow  # noqa: E402
from app.engine.run import Run  # noqa: E402
from bench.engine import start_many, wait_done  # noqa: E402
from bench.support import bench_database, bench_user  # noqa: E402
from worker.runner import WorkerHandle  # noqa: E402

STEPS = 200
ROUNDS = 5
SMALL = {"topic": "heat pumps", "words": 400, "tone": "plain", "sources": ["a", "b", "c"], "n": 7}
LARGE = "x" * 100_000


class ArgsInput(BaseModel):
    large: bool = False


async def echo(value) -> int:
    return 1


@workflow(
    name="bench-args",
    title="Bench args",
    description="steps given an argument",
    input=ArgsInput,
    hidden=True,
)
async def bench_args(run: Run, inp: ArgsInput) -> None:
    payload = LARGE if inp.large else SMALL
    for _ in range(STEPS):
        await run.step("step", echo, payload)


async def per_step(pool, user, large: bool) -> float:
    [run_id] = await start_many(pool, user, "bench-args", 1, large=large)
    await wait_done(pool, [run_id])
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT extract(epoch FROM max(completed_at) - min(started_at)) * 1000 AS ms FROM run_steps "
                "WHERE run_id = %s",
                (run_id,),
            )
        ).fetchone()
    return float(row["ms"]) / STEPS


async def run_all(url: str) -> None:
    pool = await open_pool(url, min_size=2, max_size=12)
    handle = WorkerHandle(pool, concurrency=8, name="bench-args")
    handle.start()
    kept = journal.step_args
    try:
        async with pool.connection() as conn:
            user = await bench_user(conn)
        await per_step(pool, user, False)  # warm-up
        figures: dict[tuple[str, bool], list[float]] = {}
        for _ in range(ROUNDS):
            for large in (False, True):
                for mode in ("off", "on"):
                    journal.step_args = kept if mode == "on" else (lambda args, kwargs: None)
                    figures.setdefault((mode, large), []).append(await per_step(pool, user, large))
        for large in (False, True):
            off, on = (statistics.median(figures[(m, large)]) for m in ("off", "on"))
            label = "100 KB string" if large else "100-byte dict"
            print(
                f"per step, argument {label:<14} baseline (not journaled) {off:.3f} ms   journaled {on:.3f} ms"
                f"   ({on / off:.2f}x, {on - off:+.3f} ms)"
            )
    finally:
        journal.step_args = kept
        await handle.stop()
        await pool.close()


async def main() -> None:
    with bench_database("baton_bench_args") as url:
        await run_all(url)


if __name__ == "__main__":
    asyncio.run(main())
