"""The migration runner: in order, once each, and a failing file leaves nothing half-applied."""

from __future__ import annotations

import psycopg
import pytest

from app.core.migrations import MigrationError, apply_migrations, pending_migrations


def test_a_failing_migration_is_named_and_leaves_nothing_behind(fresh_database, tmp_path):
    url = fresh_database()
    (tmp_path / "0001_widgets.sql").write_text("CREATE TABLE widgets (id int PRIMARY KEY);")
    (tmp_path / "0002_broken.sql").write_text(
        "CREATE TABLE gadgets (id int);\nALTER TABLE no_such_table ADD COLUMN x int;"
    )

    with pytest.raises(MigrationError, match=r"^migration 0002_broken failed: .*no_such_table"):
        apply_migrations(url, sql_dir=tmp_path)

    with psycopg.connect(url) as conn:
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert "widgets" in tables
    assert "gadgets" not in tables  # same transaction as the failing statement
    assert pending_migrations(url, sql_dir=tmp_path) == ["0002_broken"]


def test_pending_migrations_are_applied_in_order_and_once(fresh_database, tmp_path):
    url = fresh_database()
    (tmp_path / "0002_second.sql").write_text("INSERT INTO steps VALUES ('second');")
    (tmp_path / "0001_first.sql").write_text(
        "CREATE TABLE steps (name text); INSERT INTO steps VALUES ('first');"
    )

    assert apply_migrations(url, sql_dir=tmp_path) == ["0001_first", "0002_second"]
    assert apply_migrations(url, sql_dir=tmp_path) == []

    with psycopg.connect(url) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM steps")] == ["first", "second"]
