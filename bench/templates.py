"""Template interpreter overhead: a template of N `ask_model` blocks against the same N model steps
written in Python (bench/template_workflows.py), on the offline model, alternating runs on one worker
in the same run of this script (the machine's load hits both alike). Target (issue 17): ≤ 1.2×.

    uv run python bench/templates.py [--blocks 10 50] [--runs 6]

Also times `validate_document` on a 100-block template (what the editor runs on each edit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import app.templates.interpreter  # noqa: E402,F401
import bench.template_workflows  # noqa: E402,F401
from app.core.db import open_pool  # noqa: E402
from app.engine.commands import start_run  # noqa: E402
from app.templates import store  # noqa: E402
from app.templates.format import validate_document  # noqa: E402
from app.templates.start import start_template_run  # noqa: E402
from bench.support import Workers, bench_database, mark, pct  # noqa: E402

TARGET = 1.2


def chain_document(n: int) -> dict:
    blocks = [{"id": "b0", "kind": "ask_model", "prompt": "Step 0 about {{ inputs.topic }}: "}]
    blocks += [
        {
            "id": f"b{i}",
            "kind": "ask_model",
            "prompt": f"Step {i} about {{{{ inputs.topic }}}}: {{{{ b{i - 1}[:50] }}}}",
        }
        for i in range(1, n)
    ]
    return {
        "title": f"Chain of {n}",
        "inputs": [{"name": "topic", "label": "Topic"}],
        "blocks": blocks,
    }


async def run_seconds(pool, run_id) -> float:
    async with pool.connection() as conn:
        while True:
            row = await (
                await conn.execute(
                    "SELECT status, started_at, completed_at, error FROM runs WHERE id = %s",
                    (run_id,),
                )
            ).fetchone()
            if row["status"] in ("completed", "failed", "cancelled"):
                assert row["status"] == "completed", row["error"]
                return (row["completed_at"] - row["started_at"]).total_seconds()
            await asyncio.sleep(0.01)


async def measure(pool, user, n: int, runs: int) -> tuple[list[float], list[float], dict]:
    """Run seconds (started_at → completed_at) of each kind, and the start call's seconds of each
    (a template's start also writes the run's `load template` journal entry)."""
    async with pool.connection() as conn:
        tpl = await store.create_template(conn, owner_id=user, document=chain_document(n))
    python, template = [], []
    starts: dict[str, list[float]] = {"python": [], "template": []}
    for i in range(runs):
        for kind in ("python", "template") if i % 2 == 0 else ("template", "python"):
            began = time.perf_counter()
            async with pool.connection() as conn:
                if kind == "python":
                    run, _ = await start_run(
                        conn,
                        owner_id=user,
                        workflow="bench-template-python",
                        input={"blocks": n, "topic": "otters"},
                    )
                else:
                    run, _ = await start_template_run(
                        conn, user_id=user, slug=tpl["slug"], input={"topic": "otters"}
                    )
            starts[kind].append(time.perf_counter() - began)
            (python if kind == "python" else template).append(await run_seconds(pool, run.id))
    return python, template, starts


class _DirectRun:
    """Steps called directly, no journal: what the interpreter itself costs per block."""

    owner_id, id = 0, "bench"

    async def step(self, name, fn, *args, **kwargs):
        return (await fn(*args)).value


async def interpreter_cpu_ms(n: int = 50, repeat: int = 5) -> tuple[float, float]:
    """Median ms per block of the interpreter vs a Python loop making the same step calls, no engine."""
    from app.templates.format import parse
    from app.templates.interpreter import Interpreter
    from app.templates.model_call import ask_model

    template, tpl, py = parse(chain_document(n)), [], []
    for _ in range(repeat):
        start = time.perf_counter()
        await Interpreter(_DirectRun(), template, {"title": "bench"}).blocks(
            template.blocks, {"inputs": {"topic": "otters"}, "run": {}}
        )
        tpl.append((time.perf_counter() - start) / n * 1000)
        start, previous = time.perf_counter(), ""
        for i in range(n):
            previous = (
                await ask_model("", f"Step {i} about otters: {previous[:50]}", None, None, [])
            ).value
        py.append((time.perf_counter() - start) / n * 1000)
    return statistics.median(tpl), statistics.median(py)


def validation_ms(n: int = 100, repeat: int = 50) -> list[float]:
    doc = chain_document(n)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        assert validate_document(doc) == []
        times.append((time.perf_counter() - start) * 1000)
    return times


async def main(args) -> None:
    print(
        f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)"
    )
    with bench_database("baton_bench_tpl") as url:
        workers = Workers(url, modules="bench.template_workflows")
        workers.start(1, concurrency=1)
        pool = await open_pool(url, min_size=1, max_size=4)
        try:
            async with pool.connection() as conn:
                user = (
                    await (
                        await conn.execute(
                            "INSERT INTO users (email, tier) VALUES ('bench@templates.test', 'enterprise') RETURNING id"
                        )
                    ).fetchone()
                )["id"]
            await measure(pool, user, 3, 1)  # warm up both paths (imports, prepared statements)
            print(
                f"{'blocks':>6} {'runs':>4} {'python ms/block':>16} {'template ms/block':>18} {'ratio':>6}"
                f"   {'start ms python/template':>24}  {'with start':>10}"
            )
            medians = []
            for n in args.blocks:
                python, template, starts = await measure(pool, user, n, args.runs)
                medians.append((n, statistics.median(python), statistics.median(template)))
                py_block = statistics.median(python) / n * 1000
                tpl_block = statistics.median(template) / n * 1000
                ratio = tpl_block / py_block
                py_start = statistics.median(starts["python"]) * 1000
                tpl_start = statistics.median(starts["template"]) * 1000
                # The whole cost of a run as its starter pays it: the start call, then the run.
                whole = (tpl_block * n + tpl_start) / (py_block * n + py_start)
                print(
                    f"{n:>6} {args.runs:>4} {py_block:>16.2f} {tpl_block:>18.2f} {ratio:>5.2f}× {mark(ratio <= TARGET)}"
                    f"   {py_start:>11.1f} / {tpl_start:<10.1f}  {whole:>5.2f}× {mark(whole <= TARGET)}"
                )
            if len(medians) >= 2:
                # The cost of one more block (the slope between the smallest and largest size): the
                # per-block overhead without the run's fixed costs (a template loads its document once).
                (n0, py0, tpl0), (n1, py1, tpl1) = medians[0], medians[-1]
                py_marginal = (py1 - py0) / (n1 - n0) * 1000
                tpl_marginal = (tpl1 - tpl0) / (n1 - n0) * 1000
                fixed = ((tpl0 - py0) - (n0 * (tpl_marginal - py_marginal)) / 1000) * 1000
                ratio = tpl_marginal / py_marginal
                print(
                    f"per extra block ({n0}→{n1}): python {py_marginal:.2f} ms, template {tpl_marginal:.2f} ms,"
                    f" {ratio:.2f}× {mark(ratio <= TARGET)}; template's fixed extra per run {fixed:.1f} ms"
                )
        finally:
            await pool.close()
            workers.stop()
    tpl_cpu, py_cpu = await interpreter_cpu_ms()
    print(
        f"without the engine (50 blocks): interpreter {tpl_cpu:.3f} ms/block, Python {py_cpu:.3f} ms/block"
    )
    times = validation_ms()
    print(
        f"validate_document, 100 blocks: median {statistics.median(times):.1f} ms, p95 {pct(times, 95):.1f} ms"
    )
    print(
        f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--runs", type=int, default=6)
    asyncio.run(main(parser.parse_args()))
