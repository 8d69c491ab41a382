"""What every benchmark needs: a fresh migrated database (dropped afterwards), worker processes,
and percentiles. The server is BENCH_DATABASE_URL or TEST_DATABASE_URL, else an embedded one."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from app.core.embedded_pg import EmbeddedPostgres
from app.core.migrations import apply_migrations

BATON = str(Path(sys.executable).with_name("baton"))
# The tree this bench runs from: its workers import `app` from it too. `.venv/bin/baton` would
# otherwise import the venv's editable install (the worktree that ran `uv sync`), so a copy of
# main's tree measured with the same venv would time the worktree's worker.
TREE = str(Path(__file__).resolve().parents[1])


@contextmanager
def bench_database(prefix: str = "baton_bench") -> Iterator[str]:
    """A URL of a new, migrated database; dropped (and an embedded server stopped) at the end."""
    server_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    embedded = None
    if not server_url:
        embedded = EmbeddedPostgres(Path(tempfile.mkdtemp()))
        server_url = embedded.start()
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        apply_migrations(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if embedded:
            embedded.stop()


class Workers:
    """`baton worker` processes on the benchmark's database, loading the given workflow modules."""

    def __init__(self, url: str, modules: str = "bench.workflows"):
        self.url, self.modules, self.procs, self.tmp = url, modules, [], tempfile.mkdtemp()

    def start(self, n: int, concurrency: int = 8) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "BATON_DATA_DIR": self.tmp,
            "BATON_SECRET_KEY": "bench-secret-key-000",
            "BATON_WORKFLOW_MODULES": self.modules,
            "PYTHONPATH": os.pathsep.join(filter(None, [TREE, os.environ.get("PYTHONPATH")])),
        }
        with psycopg.connect(self.url, autocommit=True) as conn:
            before = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0]
            for _ in range(n):
                self.procs.append(
                    subprocess.Popen(
                        [BATON, "worker", "--concurrency", str(concurrency)],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            deadline = (
                time.monotonic() + 60
            )  # imports and registration take a while on a busy machine
            while (
                conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0]
                < before + n
            ):
                assert time.monotonic() < deadline, "benchmark workers did not start"
                time.sleep(0.1)
        time.sleep(0.5)

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(20)
        self.procs = []


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def mark(ok: bool) -> str:
    return "ok " if ok else "MISS"


async def bench_user(conn) -> int:
    """The benchmark's one user, on the enterprise tier (no quota in the way), in a fresh database."""
    row = await (
        await conn.execute(
            "INSERT INTO users (email, tier) VALUES ('bench@example.test', 'enterprise') RETURNING id"
        )
    ).fetchone()
    return row["id"]
