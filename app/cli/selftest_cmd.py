"""`baton selftest`: one self-test workflow end to end, with its timings."""

from __future__ import annotations

import argparse
import asyncio
import time

from app.cli.common import CommandFailed, _print, _sync, _user_id
from app.engine import commands
from app.engine.hooks import resolve_hook

WORKER_SEEN = """
SELECT EXISTS (SELECT 1 FROM procrastinate_workers WHERE last_heartbeat > now() - interval '30 seconds') AS seen
"""
SELFTEST_USER = "selftest@baton.invalid"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("selftest", help="run one self-test workflow end to end and report timings")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--step-ms", type=float, default=0)
    p.add_argument("--sleep", type=float, default=0, help="durable sleep, seconds")
    p.add_argument(
        "--approval", action="store_true", help="wait for an approval (resolved by the command)"
    )
    p.add_argument("--fail-attempts", type=int, default=0)
    p.add_argument("--fan-out", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_sync(selftest))


async def selftest(args, pool) -> int:
    """Start a selftest, answer its approval, wait for the end. Uses the deployment's workers when
    one is alive; otherwise runs a worker in this process for the duration."""
    from worker.runner import WorkerHandle

    owner = await _user_id(pool, SELFTEST_USER, create=True)
    async with pool.connection() as conn:
        seen = (await (await conn.execute(WORKER_SEEN)).fetchone())["seen"]
    local = None if seen else WorkerHandle(pool, concurrency=4, name="selftest")
    if local:
        local.start()
    try:
        started = time.perf_counter()
        async with pool.connection() as conn:
            run, _ = await commands.start_run(
                conn,
                owner_id=owner,
                workflow="selftest",
                input={
                    "steps": args.steps,
                    "step_ms": args.step_ms,
                    "sleep_s": args.sleep,
                    "approval": args.approval,
                    "fail_attempts": args.fail_attempts,
                    "fan_out": args.fan_out,
                },
            )
        run = await _follow(pool, run.id, args.timeout)
        wall_ms = (time.perf_counter() - started) * 1000
    finally:
        if local:
            await local.stop()
    report = {
        "run_id": run["id"],
        "status": run["status"],
        "steps": args.steps,
        "wall_ms": round(wall_ms, 1),
        "per_step_ms": round(wall_ms / max(args.steps, 1), 3),
        "worker": "in-process" if local else "deployment",
        "output": run["output"],
        "error": run["error"],
    }
    _print(report) if args.json else print(
        f"selftest {run['status']}: {args.steps} steps in {wall_ms:.0f} ms ({report['per_step_ms']} ms/step)"
    )
    return 0 if run["status"] == "completed" else 1


async def _follow(pool, run_id, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    async with pool.connection() as conn:
        while True:
            run = await (
                await conn.execute("SELECT * FROM runs WHERE id = %s", (run_id,))
            ).fetchone()
            if run["status"] in ("completed", "failed", "cancelled"):
                return run
            if run["status"] == "waiting":
                hook = await (
                    await conn.execute(
                        "SELECT token FROM hooks WHERE run_id = %s AND status = 'waiting'",
                        (run_id,),
                    )
                ).fetchone()
                if hook:
                    await resolve_hook(conn, hook["token"], "approve", decided_by="selftest")
            if time.monotonic() > deadline:
                await commands.cancel_run(conn, run_id)
                raise CommandFailed(
                    f"selftest did not finish within {timeout:.0f} s (run {run_id} cancelled)"
                )
            await asyncio.sleep(0.01)
