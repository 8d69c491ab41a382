"""Documents and data benchmark: prints the figures of issue 8 in one run.

    uv run python bench/documents.py         # uses BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded

(a) text extraction of 50 ten-page PDFs by the `document-processing` workflow's `run.map`, with 1 and
    then 2 `baton worker` processes (documents per second, from the children's start and finish
    times, best of three runs; with the machine's CPU use and the workers' own, since extraction is
    CPU-bound: a second worker only helps if a core is free for it; target: about linear to 2); (b) a 1,000,000-row CSV loaded, validated, profiled
    and charted as the `data-analysis` workflow does (`app.steps.tables.load_csv`), in a fresh
    process: seconds and peak memory (RSS, DuckDB included; targets <= 10 s, <= 1 GB).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
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
from app.core.db import open_pool  # noqa: E402
from app.core.embedded_pg import EmbeddedPostgres  # noqa: E402
from app.core.migrations import apply_migrations  # noqa: E402
from app.engine.commands import cancel_run, start_run  # noqa: E402
from app.steps.run_files import attach_uploads, store_uploads  # noqa: E402
from bench.support import bench_user  # noqa: E402

BATON = str(Path(sys.executable).with_name("baton"))
DOCS, PAGES, ROWS = 50, 10, 1_000_000


def ten_page_pdf(i: int) -> bytes:
    from fpdf import FPDF

    words = [
        "revenue",
        "growth",
        "margin",
        "risk",
        "supply",
        "chain",
        "energy",
        "policy",
        "customers",
        "product",
        "market",
        "regulation",
        "forecast",
        "quarter",
        "cost",
        "capital",
        "labour",
        "demand",
    ]
    pdf = FPDF()
    pdf.set_font("helvetica", size=10)
    for page in range(PAGES):
        pdf.add_page()
        body = " ".join(words[(i * 13 + page * 7 + k) % len(words)] for k in range(450))
        pdf.multi_cell(0, 5, f"Report {i}, page {page + 1}. {body}")
    return bytes(pdf.output())


def cpu_jiffies(pids: list[int]) -> tuple[int, int, int]:
    """(machine busy, machine total, these processes' user+system) in clock ticks, from /proc."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    own = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own += int(stat[11]) + int(stat[12])
    return sum(fields) - idle, sum(fields), own


def mark(ok: bool) -> str:
    return "ok " if ok else "MISS"


class Workers:
    def __init__(self, url: str):
        self.url, self.procs, self.tmp = url, [], tempfile.mkdtemp()

    def start(self, n: int, concurrency: int = 8) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATON_"))}
        env.update(
            DATABASE_URL=self.url,
            BATON_DATA_DIR=self.tmp,
            BATON_SECRET_KEY="bench-secret-key-000",
            BATON_DOC_SUMMARY_RATE="100000/min",
        )  # the offline model; no rate wait in this figure
        for _ in range(n):
            self.procs.append(
                subprocess.Popen(
                    [BATON, "worker", "--concurrency", str(concurrency)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(3.0)  # imports and worker registration

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(20)
        self.procs = []


async def extraction(
    pool, user: int, pdfs: list[bytes], pids: list[int]
) -> tuple[float, float, float]:
    """Documents per second of one run's extraction map; the machine's CPU use (of all cores) and
    the workers' (in cores) while it ran."""
    before = cpu_jiffies(pids)
    t0 = time.monotonic()
    async with pool.connection() as conn, conn.transaction():
        ids = await store_uploads(
            conn,
            user,
            [
                {"name": f"input/{i:02d}.pdf", "content_type": "application/pdf", "data": d}
                for i, d in enumerate(pdfs)
            ],
        )
        run, _ = await start_run(
            conn,
            owner_id=user,
            workflow="document-processing",
            input={
                "documents": [
                    {"artifact_id": a, "name": f"report-{i}.pdf", "size": len(d)}
                    for i, (a, d) in enumerate(zip(ids, pdfs, strict=True))
                ],
                "question": "What do the reports say about growth?",
            },
        )
        await attach_uploads(conn, ids, run.id)
    deadline = time.monotonic() + 600
    async with pool.connection() as conn:
        while True:
            row = await (
                await conn.execute(
                    "SELECT status FROM run_steps WHERE run_id = %s AND name = 'extract text'",
                    (run.id,),
                )
            ).fetchone()
            if row and row["status"] == "completed":
                after, wall = cpu_jiffies(pids), time.monotonic() - t0
                break
            assert time.monotonic() < deadline, "extraction did not finish"
            await asyncio.sleep(0.1)
        span = await (
            await conn.execute(
                "SELECT extract(epoch FROM max(c.completed_at) - min(c.started_at)) AS s, count(*) AS n "
                "FROM run_children c JOIN run_steps s ON s.run_id = c.run_id AND s.seq = c.seq "
                "WHERE c.run_id = %s AND s.name = 'extract text' AND c.status = 'completed'",
                (run.id,),
            )
        ).fetchone()
        while (
            await (
                await conn.execute("SELECT status FROM runs WHERE id = %s", (run.id,))
            ).fetchone()
        )["status"] != "waiting":
            assert time.monotonic() < deadline, "the summaries did not finish"
            await asyncio.sleep(
                0.1
            )  # (cancelling mid fan-out can deadlock with a finishing child: see the report)
        await cancel_run(conn, run.id, owner_id=user)
    assert span["n"] == DOCS, f"{span['n']} of {DOCS} documents extracted"
    busy = (after[0] - before[0]) / max(1, after[1] - before[1])
    workers_cores = (after[2] - before[2]) / os.sysconf("SC_CLK_TCK") / wall
    return DOCS / float(span["s"]), busy, workers_cores


PROFILE = """
import json, resource, sys, tempfile, time
from pathlib import Path
from app.steps.tables import load_csv
data = Path(sys.argv[1]).read_bytes()
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    table = load_csv(data, Path(tmp))
    seconds = time.perf_counter() - t0
    parquet = table.parquet.stat().st_size
print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": table.profile["rows"], "columns": table.profile["column_count"],
                  "charts": len(table.charts), "parquet_mb": parquet / 1048576}))
"""


def profiling(tmp: Path) -> dict:
    import duckdb

    path = tmp / "big.csv"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT i AS id, 'customer-' || (i % 50000) AS customer,
                          ['north', 'south', 'east', 'west'][1 + i % 4] AS region,
                          round(10 + (hash(i) % 100000) / 1000.0, 2) AS price, 1 + i % 9 AS qty,
                          CASE WHEN i % 40 = 0 THEN NULL ELSE (hash(i * 7) % 1000) / 10.0 END AS discount,
                          DATE '2024-01-01' + (i % 366)::INT AS day
                   FROM range({ROWS}) t(i)) TO '{path}' (HEADER, DELIMITER ',')""")
    con.close()
    out = subprocess.run(
        [sys.executable, "-c", PROFILE, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    line = next(ln for ln in reversed(out.stdout.splitlines()) if ln.startswith("{"))
    return json.loads(line) | {"csv_mb": path.stat().st_size / 1048576}


async def main() -> None:
    server_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    embedded = None
    if not server_url:
        embedded = EmbeddedPostgres(Path(tempfile.mkdtemp()))
        server_url = embedded.start()
    name = f"baton_bench_docs_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    apply_migrations(url)
    pool = await open_pool(url, min_size=1, max_size=4)
    workers = Workers(url)
    load = os.getloadavg()[0]
    print(f"    machine: {os.cpu_count()} cores, load average {load:.1f} before the run")
    try:
        async with pool.connection() as conn:
            user = await bench_user(conn)
        t0 = time.perf_counter()
        distinct = [
            ten_page_pdf(i) for i in range(10)
        ]  # fpdf2 is slow to write; each is read as its own document
        pdfs = [distinct[i % 10] for i in range(DOCS)]
        print(
            f"    {DOCS} PDFs of {PAGES} pages ({len(distinct)} distinct) written in {time.perf_counter() - t0:.1f} s "
            f"({sum(map(len, pdfs)) / 1048576:.1f} MB)"
        )
        rates, cores_used = {}, {}
        for n in (1, 2):
            workers.start(n)
            tries = [
                await extraction(pool, user, pdfs, [p.pid for p in workers.procs]) for _ in range(3)
            ]
            rates[n], busy, cores = max(tries)  # best of three: the machine is shared
            cores_used[n] = cores
            workers.stop()
            print(
                f"(a) extraction, {n} worker{'s' if n > 1 else ' '}                   {rates[n]:.1f} docs/s "
                f"({rates[n] * PAGES:.0f} pages/s); machine CPU {busy:.0%} busy, workers used {cores:.2f} cores"
            )
        scale = rates[2] / rates[1]
        print(
            f"    scaling 2 workers / 1                       {scale:.2f}x  {mark(scale >= 1.6)} target ~2x (>= 1.6x)"
        )
        per_core = {n: rates[n] / max(cores_used[n], 0.01) for n in rates}
        print(
            f"    per worker-core: 1 worker {per_core[1]:.1f}, 2 workers {per_core[2]:.1f} docs/s "
            f"({per_core[2] / per_core[1]:.2f}x: ~1 means the rate follows the cores the workers get)"
        )
        with tempfile.TemporaryDirectory() as tmp:
            p = profiling(Path(tmp))
        print(f"(b) profile {p['rows']:,} rows x {p['columns']} columns ({p['csv_mb']:.0f} MB CSV)")
        print(
            f"    seconds                                     {p['seconds']:.2f} s  {mark(p['seconds'] <= 10)} target <= 10 s"
        )
        print(
            f"    peak memory (RSS)                           {p['rss_mb']:.0f} MB  {mark(p['rss_mb'] <= 1024)} target <= 1 GB"
        )
        print(f"    charts {p['charts']}, table kept as Parquet {p['parquet_mb']:.1f} MB")
    finally:
        workers.stop()
        await pool.close()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if embedded:
            embedded.stop()


if __name__ == "__main__":
    asyncio.run(main())
