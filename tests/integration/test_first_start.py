"""A fresh machine: the first start creates everything, later starts reuse it, and processes that
start together agree on the migrations."""

from __future__ import annotations

import subprocess

import httpx
import psycopg
import pytest

from app.core.migrations import discover
from tests.conftest import baton_env
from tests.integration.baton_process import BATON, baton_serve, run_baton, scratch_dir

ALL_MIGRATIONS = [m.name for m in discover()]


def applied_names(stdout: str) -> list[str]:
    """Parse `applied N migration(s): a, b` as printed by `baton migrate`."""
    line = stdout.strip().splitlines()[-1]
    assert line.startswith("applied "), stdout
    _, _, names = line.partition(": ")
    return [n for n in names.split(", ") if n]


@pytest.fixture(scope="module")
def workdir():
    with scratch_dir() as path:
        yield path


@pytest.fixture(scope="module")
def first_start(workdir):
    """`baton migrate` on an empty data dir, no DATABASE_URL: the embedded server's first use."""
    data_dir = workdir / "data"
    result = run_baton("migrate", cwd=workdir, BATON_DATA_DIR=str(data_dir))
    return data_dir, result


def test_first_start_creates_the_database_and_applies_every_migration(first_start):
    data_dir, result = first_start
    assert result.returncode == 0, result.stderr
    assert "embedded_pg.init" in result.stderr
    assert applied_names(result.stdout) == ALL_MIGRATIONS
    assert (data_dir / "postgres" / "data" / "PG_VERSION").exists()
    assert (data_dir / "secret_key").exists()
    # The server is ours only while the command runs.
    assert not (data_dir / "postgres" / "data" / "postmaster.pid").exists()


def test_second_start_reuses_the_database(first_start, workdir):
    data_dir, first = first_start
    assert first.returncode == 0, first.stderr
    key = (data_dir / "secret_key").read_text()

    again = run_baton("migrate", cwd=workdir, BATON_DATA_DIR=str(data_dir))

    assert again.returncode == 0, again.stderr
    assert "embedded_pg.init" not in again.stderr
    assert applied_names(again.stdout) == []
    assert (data_dir / "secret_key").read_text() == key


def test_serve_after_the_first_start_reuses_the_database(first_start, workdir):
    data_dir, first = first_start
    assert first.returncode == 0, first.stderr

    with baton_serve(workdir, BATON_DATA_DIR=str(data_dir)) as server:
        log = server.stderr()
        health = httpx.get(f"{server.url}/healthz", timeout=5).json()

    assert "embedded_pg.started" in log
    assert "embedded_pg.init" not in log
    assert "migration.applied" not in log
    assert health["migrations_current"] is True


def test_two_migrate_processes_started_together_apply_each_migration_once(fresh_database, tmp_path):
    url = fresh_database()
    env = baton_env(DATABASE_URL=url, BATON_DATA_DIR=str(tmp_path / "data"))
    procs = [
        subprocess.Popen(
            [BATON, "migrate"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    applied = [name for out, _ in outputs for name in applied_names(out)]
    assert sorted(applied) == sorted(ALL_MIGRATIONS)  # each applied by exactly one of the two
    with psycopg.connect(url) as conn:
        recorded = [r[0] for r in conn.execute("SELECT name FROM baton_migrations ORDER BY name")]
    assert recorded == ALL_MIGRATIONS
