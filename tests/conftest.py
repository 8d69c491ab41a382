"""Shared fixtures: one fresh database per test session on a real PostgreSQL.

`TEST_DATABASE_URL` (CI: the local server at 127.0.0.1:5432) names a server we may create databases
on; without it an embedded server is started under a temporary data dir.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from app.core.config import Settings, load_settings
from app.core.db import open_pool
from app.core.embedded_pg import EmbeddedPostgres
from app.core.migrations import apply_migrations

ROOT = Path(__file__).resolve().parents[1]

# Model server, app client and account fixtures (tests/support/fixtures.py).
pytest_plugins = ["tests.support.fixtures", "tests.support.engine"]


def _with_db(url: str, name: str) -> str:
    """The same server, another database; kept a URL because DATABASE_URL only accepts URLs."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A URL on a server where the tests may create databases."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    # Not under pytest's tmp root: as root the server runs as a system user that must traverse
    # the parents, and each pytest session that starts resets /tmp/pytest-of-root to 0700.
    data_dir = Path(tempfile.mkdtemp(prefix="baton-test-"))
    server = EmbeddedPostgres(data_dir)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def fresh_database(server_url):
    """Factory: create an empty database on the test server; dropped at the end of the session."""
    created: list[str] = []

    def make(prefix: str = "baton_test") -> str:
        name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return _with_db(server_url, name)

    yield make
    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in created:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def database_url(fresh_database) -> str:
    """The session's migrated database, shared by the tests (each makes its own users and data)."""
    url = fresh_database()
    apply_migrations(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url, tmp_path_factory) -> Settings:
    env = {
        "DATABASE_URL": database_url,
        "BATON_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "BATON_SECRET_KEY": "test-secret-key-0123456789",
    }
    return load_settings(env)


@pytest.fixture(scope="session")
async def pool(database_url) -> AsyncIterator:
    pool = await open_pool(database_url, max_size=20, name="tests")
    yield pool
    await pool.close()


def baton_env(**extra: str) -> dict[str, str]:
    """Environment for a `baton` subprocess: this interpreter's PATH, no inherited Baton settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BATON_", "DATABASE_URL", "OPENAI_", "SMTP_"))
    }
    env.update(extra)
    return env
