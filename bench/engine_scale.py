"""The engine at scale: what grows with the number of suspended runs and the length of a journal.

    uv run python bench/engine_scale.py [--sizes 1000,10000,100000] [--steps 2000]

It owns a throwaway PostgreSQL cluster (tests/support/pg_cluster.py: `initdb` on a free port,
`fsync=off`), so the WAL figures count this script's writes alone on a machine whose shared server
serves other people too. Baselines are measured in the same run:

(g) the recovery sweep's orphan-run query at N suspended runs (6/7 waiting on a hook, half of them
    with a timeout, 1/7 sleeping; every one with its job as the engine queues it), beside the
    pre-issue-14 query (one NOT EXISTS with `queueing_lock = key OR lock = key`) while it stays under
    a few seconds;
(h) WAL written per step (pg_current_wal_lsn deltas) beside the floor (one-row INSERT+COMMIT), and
    the share of the `runs` table's updates that were HOT over a long run;
(f) resuming a run after a hook decision with a 1,000- and a 5,000-step journal (through a
    `baton worker`: load + replay up to the next step's start, and decision -> next step), and the
    same with 2 kB step outputs; beside it one resume in this process (load query + replay to the
    hook), with the whole journal loaded and with the journal kept since the run suspended: best
    wall times, and the CPU time of Python and of its Postgres backend per resume, which the
    machine's load hardly inflates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.workflows  # noqa: E402,F401
from app.core.db import open_pool  # noqa: E402
from app.core.migrations import apply_migrations  # noqa: E402
from app.engine.recovery import ORPHAN_RUNS, sweep  # noqa: E402
from bench.engine import floor_ms, start_many, wait_done  # noqa: E402
from bench.support import Workers, bench_user, mark, pct  # noqa: E402
from tests.support.pg_cluster import pg_cluster  # noqa: E402

# The orphan-run query before issue 14: the OR keeps Postgres from using either partial unique
# index of procrastinate_jobs, so every run scans the job table (quadratic in suspended runs).
OLD_ORPHAN_RUNS = """
SELECT r.id, r.status, r.wake_at FROM runs r
WHERE r.status IN ('queued', 'running', 'sleeping', 'waiting')
  AND (r.status IN ('queued', 'running') OR r.wake_at IS NOT NULL)
  AND r.updated_at < now() - make_interval(secs => %(grace_s)s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.status IN ('todo', 'doing')
                    AND (j.queueing_lock = 'run:' || r.id::text OR j.lock = 'run:' || r.id::text))
LIMIT 500
"""

# Suspended runs as the engine leaves them (status, waiting_for, wake_at; a hook row for the
# waiting ones), then their jobs through the engine's own baton_wake_run. Idle for a minute.
SEED_SUSPENDED = """
WITH ins AS (
    INSERT INTO runs (owner_id, workflow, version, title, status, input, waiting_for, wake_at, started_at, updated_at)
    SELECT %(owner)s, 'bench-resume', 1, 'seeded', CASE WHEN g %% 7 = 0 THEN 'sleeping' ELSE 'waiting' END,
           '{}', CASE WHEN g %% 7 = 0 THEN 'nap' ELSE 'gate' END,
           CASE WHEN g %% 7 = 0 OR g %% 2 = 0 THEN now() + interval '1 day' + g * interval '1 second' END,
           now() - interval '1 minute', now() - interval '1 minute'
    FROM generate_series(1, %(n)s) g
    RETURNING id, owner_id, status, wake_at
), hooks AS (
    INSERT INTO hooks (run_id, seq, owner_id, token, name, kind, actions, expires_at)
    SELECT id, 0, owner_id, md5(id::text), 'gate', 'approval', ARRAY['approve', 'reject'], wake_at
    FROM ins WHERE status = 'waiting'
)
SELECT count(baton_wake_run(id, wake_at)) AS jobs FROM ins WHERE wake_at IS NOT NULL
"""

# Step 1 of the fix alone: one NOT EXISTS per partial unique index, every suspended run checked.
SPLIT_ORPHAN_RUNS = """
SELECT r.id, r.status, r.wake_at FROM runs r
WHERE r.status IN ('queued', 'running', 'sleeping', 'waiting')
  AND (r.status IN ('queued', 'running') OR r.wake_at IS NOT NULL)
  AND r.updated_at < now() - make_interval(secs => %(grace_s)s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.queueing_lock = 'run:' || r.id::text AND j.status = 'todo')
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.lock = 'run:' || r.id::text AND j.status = 'doing')
LIMIT 500
"""

WAL_LSN = "SELECT pg_current_wal_lsn() AS lsn"
WAL_BYTES = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint AS bytes"
RUNS_UPDATES = (
    "SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'runs'"
)


# Decision -> next step started, and its parts: the decision's commit (an upper bound: the bench
# stamps it one round trip later), the run loaded by the worker (its `running` status event, stamped
# when the load statement starts: the commit, NOTIFY, job fetch and pool checkout lie before it),
# and load + replay up to the step's start.
RESUME_PARTS = """
SELECT extract(epoch FROM s.started_at - h.decided_at) * 1000 AS ms,
       extract(epoch FROM l.created_at - h.decided_at) * 1000 AS to_load,
       extract(epoch FROM s.started_at - l.created_at) * 1000 AS load_to_step,
       extract(epoch FROM h.committed - h.decided_at) * 1000 AS to_commit
FROM (SELECT h.*, (SELECT at FROM bench_commits c WHERE c.run_id = h.run_id) AS committed
      FROM hooks h WHERE h.run_id = ANY(%s)) h
JOIN run_steps s ON s.run_id = h.run_id AND s.name = 'after'
JOIN LATERAL (SELECT created_at FROM run_events e WHERE e.run_id = h.run_id AND e.kind = 'status'
              AND e.data->>'status' = 'running' ORDER BY e.id DESC LIMIT 1) l ON true
"""


async def timed(conn, query: str, params: dict, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        await (await conn.execute(query, params)).fetchall()
        best = min(best, (time.perf_counter() - t0) * 1000)
        if best > 1000:
            break
    return best


async def sweep_scale(pool, user: int, sizes: list[int]) -> None:
    seeded, old_gave_up = 0, False
    for n in sizes:
        async with pool.connection() as conn:
            await conn.execute(SEED_SUSPENDED, {"owner": user, "n": n - seeded})
            await conn.execute("VACUUM ANALYZE runs")
            await conn.execute("VACUUM ANALYZE procrastinate_jobs")
            await conn.execute("VACUUM ANALYZE hooks")
            seeded = n
            old = "-"
            if not old_gave_up:
                old_ms = await timed(conn, OLD_ORPHAN_RUNS, {"grace_s": 10}, repeat=1)
                old, old_gave_up = f"{old_ms:.1f} ms", old_ms > 3000
            split = await timed(conn, SPLIT_ORPHAN_RUNS, {"grace_s": 10})
            if old_gave_up and ORPHAN_RUNS.strip() == OLD_ORPHAN_RUNS.strip():
                print(
                    f"(g) sweep at {n:>7,} suspended runs   before {old:>10}   split NOT EXISTS {split:7.1f} ms"
                    "   (this code still runs the old query: stopping here)"
                )
                return
            new = await timed(conn, ORPHAN_RUNS, {"grace_s": 10})
            t0 = time.perf_counter()
            await sweep(conn)
            whole = (time.perf_counter() - t0) * 1000
        print(
            f"(g) sweep at {n:>7,} suspended runs   before {old:>10}   split NOT EXISTS {split:7.1f} ms"
            f"   orphan query now {new:6.1f} ms   whole sweep {whole:7.1f} ms"
            f"  {mark(whole <= 200)} target <= 200 ms at 100,000"
        )


async def wal_per_step(pool, user: int, workers: Workers, steps: int) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, v int)"
        )
        await conn.execute("CHECKPOINT")
        lsn = (await (await conn.execute(WAL_LSN)).fetchone())["lsn"]
    floor = await floor_ms(pool, n=steps)
    async with pool.connection() as conn:
        floor_wal = (await (await conn.execute(WAL_BYTES, (str(lsn),))).fetchone())["bytes"] / steps
    [warm] = await start_many(pool, user, "selftest", 1, steps=50)  # first-touch pages, worker warm
    await wait_done(pool, [warm])
    async with pool.connection() as conn:
        await conn.execute("CHECKPOINT")
        lsn = (await (await conn.execute(WAL_LSN)).fetchone())["lsn"]
        before = await (await conn.execute(RUNS_UPDATES)).fetchone()
    t0 = time.perf_counter()
    [run_id] = await start_many(pool, user, "selftest", 1, steps=steps)
    await wait_done(pool, [run_id], timeout=600)
    elapsed = time.perf_counter() - t0
    async with pool.connection() as conn:
        step_wal = (await (await conn.execute(WAL_BYTES, (str(lsn),))).fetchone())["bytes"] / steps
        deadline = time.monotonic() + 10  # backends report table statistics within a second or so
        while True:
            after = await (await conn.execute(RUNS_UPDATES)).fetchone()
            if after["upd"] - before["upd"] >= steps or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    upd, hot = after["upd"] - before["upd"], after["hot"] - before["hot"]
    ratio = step_wal / floor_wal
    print(f"(h) floor: one-row INSERT+COMMIT   {floor:.3f} ms, {floor_wal:.0f} B of WAL")
    print(
        f"(h) WAL per step ({steps} steps)     {step_wal:.0f} B = {ratio:.2f}x floor  {mark(ratio <= 3)} target <= 3x"
        f"   ({steps / elapsed:.0f} steps/s)"
    )
    share = hot / upd if upd else 0
    print(
        f"(h) runs HOT updates              {hot}/{upd} = {share:.0%}  {mark(share > 0.9)} target > 90%"
    )


def backend_cpu_ms(pid: int) -> float:
    """CPU time (user + system) of a Postgres backend so far: the bench owns the cluster, on this
    machine. Unlike wall time it hardly grows with the machine's load (other engineers' work)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def in_process_ms(pool, run_id, repeat: int = 40) -> dict[str, tuple[float, ...]]:
    """One resume in this process (rolled back: loading marks the run running), `repeat` times,
    two ways: "loaded", the whole journal from Postgres (a worker that did not run the steps), and
    "kept", only what follows the journal kept when the run suspended (the worker that ran them).
    Each: the load query alone and query + replay of the workflow to its hook (best wall times),
    and the CPU time per resume of this process and of its Postgres backend (means; the clock
    ticks in 10 ms, hence the repeats)."""
    from app.engine.advance import load_params
    from app.engine.errors import Suspend
    from app.engine.journal import LOAD_RUN
    from app.engine.registry import get_workflow
    from app.engine.run import Run

    wf = get_workflow("bench-resume")

    async def resume(conn, kept) -> tuple[float, float, object]:
        async with conn.transaction(force_rollback=True):
            t0 = time.perf_counter()
            row = await (
                await conn.execute(LOAD_RUN, load_params(run_id, kept), prepare=True)
            ).fetchone()
            t1 = time.perf_counter()
            inp = wf.input_model.model_validate(row["input"])
            run = Run(conn, row, inp, kept)
            with contextlib.suppress(Suspend):
                await wf.fn(run, inp)
            t2 = time.perf_counter()
        return (t1 - t0) * 1000, (t2 - t0) * 1000, run.kept()

    figures = {}
    async with pool.connection() as conn:
        # Prepared, large outputs in this process's cache as on a worker, and the journal kept.
        *_, kept = await resume(conn, None)
        pid = conn.info.backend_pid
        for way, known in (("loaded", None), ("kept", kept)):
            server0, client0 = backend_cpu_ms(pid), time.process_time()
            times = [await resume(conn, known) for _ in range(repeat)]
            server = (backend_cpu_ms(pid) - server0) / repeat
            client = (time.process_time() - client0) * 1000 / repeat
            figures[way] = (min(t[0] for t in times), min(t[1] for t in times), client, server)
    return figures


async def resume_scale(pool, user: int, runs: int) -> None:
    for before, output_bytes, target in (
        (1000, 0, 10),
        (5000, 0, 25),
        (1000, 2048, 10),
        (5000, 2048, 25),
    ):
        ids = await start_many(
            pool, user, "bench-resume", runs, before=before, output_bytes=output_bytes
        )
        from bench.engine import wait_status

        await wait_status(pool, ids, "waiting")
        figures = await in_process_ms(pool, ids[0])
        parts = await resume_latency_of(pool, ids)
        lat = [p[0] for p in parts]
        resume = pct([p[2] for p in parts], 50)
        size = f"{output_bytes // 1024} kB outputs" if output_bytes else "null outputs"
        print(
            f"(f) resume, {before:>5}-step journal, {size:<13} worker: load + replay to the step"
            f" p50 {resume:6.1f} ms  {mark(resume <= target)} target <= {target} ms;"
            f" decision -> next step p50 {pct(lat, 50):6.1f} ms max {max(lat):6.1f} ms"
        )
        for way, (query, replay, client_cpu, server_cpu) in figures.items():
            print(
                f"    in process, journal {way:<6}: load query {query:.1f} ms, with replay"
                f" {replay:.1f} ms; CPU per resume {client_cpu + server_cpu:.1f} ms"
                f" = Python {client_cpu:.1f} ms + its Postgres backend {server_cpu:.1f} ms"
            )
        print(
            f"    p50 parts: decision committed <= {pct([p[3] for p in parts], 50):.1f} ms,"
            f" run loaded by the worker {pct([p[1] for p in parts], 50):.1f} ms;"
            f" load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )


async def resume_latency_of(pool, ids) -> list[float]:
    from app.engine.hooks import resolve_hook
    from bench.engine import wait_jobs_idle

    await wait_jobs_idle(pool)
    async with pool.connection() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_commits (run_id uuid, at timestamptz)")
        for run_id in ids:
            token = (
                await (
                    await conn.execute("SELECT token FROM hooks WHERE run_id = %s", (run_id,))
                ).fetchone()
            )["token"]
            await resolve_hook(conn, token, "approve")
            await conn.execute(
                "INSERT INTO bench_commits VALUES (%s, clock_timestamp())", (run_id,)
            )  # an upper bound of the decision's commit: one round trip after it
            await wait_done(pool, [run_id])
        rows = await (await conn.execute(RESUME_PARTS, (ids,))).fetchall()
    return [
        (float(r["ms"]), float(r["to_load"]), float(r["load_to_step"]), float(r["to_commit"]))
        for r in rows
    ]


async def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,2000,4000,10000,30000,100000")
    parser.add_argument("--steps", type=int, default=2000, help="steps of the long run (WAL, HOT)")
    parser.add_argument("--only", choices=["wal", "resume", "sweep"], help="one part only")
    parser.add_argument("--runs", type=int, default=3, help="runs per journal size (resume)")
    args = parser.parse_args()
    with pg_cluster() as cluster:
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        url = cluster.url_for("bench")
        apply_migrations(url)
        pool = await open_pool(url, min_size=2, max_size=8)
        workers = Workers(url)
        try:
            async with pool.connection() as conn:
                user = await bench_user(conn)
            workers.start(1)
            if args.only in (None, "wal"):
                await wal_per_step(pool, user, workers, args.steps)
            if args.only in (None, "resume"):
                await resume_scale(pool, user, args.runs)
            workers.stop()
            if args.only in (None, "sweep"):
                await sweep_scale(pool, user, [int(s) for s in args.sizes.split(",")])
        finally:
            workers.stop()
            await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
