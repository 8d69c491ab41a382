"""Live pages at scale (issue 14): N open SSE pages on one `baton serve` process, event lateness
from commit to receipt, and the process's memory and CPU.

    uv run python bench/live_fanout.py                   # 2,000 pages, baseline 100
    uv run python bench/live_fanout.py --pages 200 --baseline 20 --seconds 5   # quick

A throwaway cluster (bench/load.py's), one `baton serve --no-worker`, U users with sessions made
through the auth module's own `create_session` (no argon2 per page), and P pages per user opened
with a minimal HTTP client on raw sockets (an httpx stream per page would make the client, on the
same two cores, the bottleneck). Every page is `GET /live?page=/` as the layout opens it, and
counts once it has received its first `resync`.

Events are published the way the engine does (`pg_notify('baton_events', ...)` in autocommit, so
the commit is the statement): a `run.step` event for a run id of its own, to one random user, at a
stated rate. Lateness = receipt of `event: run-<id>` on each of that user's pages minus the moment
just before the statement was sent (an upper bound of commit -> receipt; it includes the page's
designed coalescing of COALESCE_S = 120 ms, app/web/notifications/live.py). Measured first with
`--baseline` pages open, then with `--pages`, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.migrations import apply_migrations  # noqa: E402
from bench.chaos import Proc, _free_port  # noqa: E402
from bench.load import baton_env, cpu_rss, load_cluster, wait_up  # noqa: E402
from bench.support import pct  # noqa: E402


class Page:
    """One open live page: a raw HTTP/1.1 connection reading the SSE stream."""

    def __init__(self, user_id: int, token: str, n: int):
        self.user_id, self.token, self.n = user_id, token, n
        self.ready = asyncio.Event()
        self.received: dict[str, float] = {}
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, port: int) -> None:
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port, limit=2**16)
        here = f"10.{self.n // 65536 % 256}.{self.n // 256 % 256}.{self.n % 256 + 1}"
        self.writer.write(
            (
                "GET /live?page=/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                f"Cookie: baton_session={self.token}\r\nX-Forwarded-For: {here}\r\n\r\n"
            ).encode()
        )
        await self.writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"live page answered {status!r}")
        while line := await reader.readline():
            if line.startswith(b"event: "):
                name = line[7:].strip().decode()
                if name == "resync":
                    self.ready.set()
                else:
                    self.received.setdefault(name, time.monotonic())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def make_users(url: str, n: int) -> list[tuple[int, str]]:
    from app.web.auth.accounts import create_account
    from app.web.auth.passwords import hash_password
    from app.web.auth.sessions import create_session

    hashed = await hash_password("correct horse battery staple")
    out = []
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        for i in range(n):
            user = await create_account(conn, f"live{i}@load.test", hashed, tier="free")
            out.append((user.id, await create_session(conn, user.id)))
    return out


async def open_pages(pages: list[Page], port: int, per_second: float) -> list[asyncio.Task]:
    tasks = []
    for page in pages:
        tasks.append(asyncio.create_task(page.run(port)))
        await asyncio.sleep(1 / per_second)
    waiting = [asyncio.create_task(p.ready.wait()) for p in pages]
    done, pending = await asyncio.wait(waiting, timeout=120)
    failed = [t for t in tasks if t.done() and t.exception()]
    if pending or failed:
        raise RuntimeError(
            f"{len(pending)} pages never got their first event; "
            f"{len(failed)} failed: {failed[0].exception() if failed else ''}"
        )
    return tasks


async def publish_stage(
    url: str, pages: list[Page], rate: float, seconds: float, web: Proc
) -> dict:
    by_user: dict[int, list[Page]] = {}
    for page in pages:
        by_user.setdefault(page.user_id, []).append(page)
    users = list(by_user)
    sent: list[tuple[str, int, float]] = []
    cpu0, _ = cpu_rss(web.proc.pid)
    t_start = time.monotonic()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            user = random.choice(users)
            run_id = str(uuid.uuid4())
            payload = json.dumps({"user_id": user, "kind": "run.step", "run_id": run_id})
            t0 = time.monotonic()
            await conn.execute("SELECT pg_notify('baton_events', %s)", (payload,))
            sent.append((f"run-{run_id}", user, t0))
            await asyncio.sleep(random.expovariate(rate))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until every page got its events (or 10 s)
        if all(name in p.received for name, user, _ in sent for p in by_user[user]):
            break
        await asyncio.sleep(0.2)
    elapsed = time.monotonic() - t_start
    cpu1, rss = cpu_rss(web.proc.pid)
    late, missing = [], 0
    for name, user, t0 in sent:
        for page in by_user[user]:
            if name in page.received:
                late.append((page.received[name] - t0) * 1000)
            else:
                missing += 1
    return {
        "events": len(sent),
        "deliveries": len(late),
        "missing": missing,
        "late": late,
        "cpu": (cpu1 - cpu0) / elapsed,
        "rss": rss,
    }


def report(label: str, n_pages: int, r: dict, rate: float) -> None:
    late = r["late"]
    print(
        f"{label}: {n_pages} pages, {r['events']} events at {rate:g}/s -> {r['deliveries']} deliveries, "
        f"{r['missing']} missing; lateness p50 {pct(late, 50):.1f} p95 {pct(late, 95):.1f} "
        f"p99 {pct(late, 99):.1f} max {max(late):.1f} ms; web CPU {r['cpu']:.0%}, "
        f"RSS {r['rss'] / 2**20:.0f} MB"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--per-user", type=int, default=4, help="open pages per user")
    parser.add_argument("--rate", type=float, default=20, help="events per second")
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.pages + 256)), hard))
    print(f"live fan-out: {vars(args)}; load average {os.getloadavg()}")
    with load_cluster() as cluster:
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE live")
        url = cluster.url_for("live")
        apply_migrations(url)
        workdir = Path(tempfile.mkdtemp(prefix="baton-live-"))
        port = _free_port()
        web = Proc(
            "web", ["serve", "--no-worker", "--port", str(port)], baton_env(url, workdir), workdir
        )
        tasks: list[asyncio.Task] = []
        pages: list[Page] = []
        try:
            web.start()
            await wait_up(f"http://127.0.0.1:{port}", url, web, 0)
            _, rss_idle = cpu_rss(web.proc.pid)
            users = await make_users(url, max(1, args.pages // args.per_user))
            pages = [Page(*users[i % len(users)], i) for i in range(args.pages)]
            base = pages[: args.baseline]
            t0 = time.monotonic()
            tasks += await open_pages(base, port, 200)
            r = await publish_stage(url, base, args.rate, args.seconds, web)
            report("baseline", len(base), r, args.rate)
            tasks += await open_pages(pages[args.baseline :], port, 200)
            print(
                f"{args.pages} pages open in {time.monotonic() - t0:.0f} s; web RSS idle "
                f"{rss_idle / 2**20:.0f} MB, with the pages {cpu_rss(web.proc.pid)[1] / 2**20:.0f} MB"
            )
            r = await publish_stage(url, pages, args.rate, args.seconds, web)
            report("full", len(pages), r, args.rate)
            ok = pct(r["late"], 99) <= 250 and r["rss"] <= 2**30 and not r["missing"]
            print(
                f"target (p99 <= 250 ms, RSS <= 1 GB, none missing): {'met' if ok else 'MISSED'}; "
                f"load average {os.getloadavg()}"
            )
            return 0
        finally:
            for page in pages:
                page.close()
            for task in tasks:
                task.cancel()
            web.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
