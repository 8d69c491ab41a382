"""Apply `sql/NNNN_name.sql` in order, each exactly once, recorded in `baton_migrations`.

A transaction-level advisory lock serialises processes that start together: the second one waits,
then finds every file recorded and applies nothing. Each file runs in the same transaction as its
record, so a failing migration leaves no half-applied schema.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from app.core.paths import SQL_DIR

log = logging.getLogger("baton.migrations")

# Any constant works; it only has to be the same in every Baton process.
MIGRATION_LOCK = 0x0BA7_0001
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(Exception):
    """A migration file failed; the message names it. Nothing of that file was applied."""


@dataclass(frozen=True)
class Migration:
    name: str
    path: Path


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(sql_dir.glob("*.sql")):
        if not _NAME.match(path.name):
            raise ValueError(f"migration file name must look like 0001_name.sql: {path.name}")
        found.append(Migration(path.stem, path))
    numbers = [m.name[:4] for m in found]
    if len(numbers) != len(set(numbers)):
        raise ValueError("two migration files share a number")
    return found


CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS baton_migrations (
    name text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def apply_migrations(url: str, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations; returns the names applied by this call."""
    migrations = discover(sql_dir)
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '120s'")
        for migration in migrations:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                conn.execute(CREATE_TABLE)
                done = conn.execute(
                    "SELECT 1 FROM baton_migrations WHERE name = %s", (migration.name,)
                ).fetchone()
                if done:
                    continue
                try:
                    conn.execute(migration.path.read_text())
                except psycopg.Error as exc:
                    first_line = (
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    )
                    raise MigrationError(
                        f"migration {migration.name} failed: {first_line}"
                    ) from exc
                conn.execute("INSERT INTO baton_migrations (name) VALUES (%s)", (migration.name,))
            applied_now.append(migration.name)
            log.info("migration.applied", extra={"migration": migration.name})
    return applied_now


def pending_migrations(url: str, sql_dir: Path = SQL_DIR) -> list[str]:
    names = [m.name for m in discover(sql_dir)]
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('baton_migrations') IS NOT NULL AS e").fetchone()[
            0
        ]
        if not exists:
            return names
        done = {r[0] for r in conn.execute("SELECT name FROM baton_migrations")}
    return [n for n in names if n not in done]
