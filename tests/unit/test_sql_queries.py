"""The named queries in the `.sql` files next to their modules: each is described and used, none is
left over, and the job queue is written in one place under one constant per task name."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from app.core import queue as queue_module
from app.core.sql_queries import load_queries

ROOT = Path(__file__).resolve().parents[2]
SQL_FILES = sorted((ROOT / "app").rglob("*.sql"))
PYTHON = {
    p: p.read_text(encoding="utf-8") for d in ("app", "worker") for p in (ROOT / d).rglob("*.py")
}


def test_the_engine_keeps_its_queries_in_sql_files():
    names = {p.relative_to(ROOT).as_posix() for p in SQL_FILES}
    for module in (
        "advance",
        "commands",
        "hooks",
        "jobs",
        "journal",
        "mapping",
        "quotas",
        "recovery",
        "retention",
    ):
        assert f"app/engine/{module}.sql" in names


@pytest.mark.parametrize("sql_file", SQL_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_query_is_named_described_and_used(sql_file: Path):
    queries = load_queries(
        sql_file
    )  # raises on a query without a `-- why` line or a name used twice
    assert queries, f"{sql_file.name} holds no query"
    module = sql_file.with_suffix(".py")
    source = module.read_text(encoding="utf-8")
    assert "SQL = load_queries(__file__)" in source
    bound = dict(re.findall(r'^([A-Z_]+) = SQL\["([a-z0-9_]+)"\]$', source, re.MULTILINE))
    assert sorted(bound.values()) == sorted(queries), (
        f"{module.name} must bind each query of {sql_file.name} once"
    )
    for name, query in queries.items():
        assert query and not query.endswith(";"), name
    for constant in bound:
        dotted = module.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        uses = sum(
            len(re.findall(rf"\b{constant}\b", text))
            for path, text in PYTHON.items()
            if path != module
            and (
                dotted in text
                or re.search(rf"from {dotted.rpartition('.')[0]} import .*\b{module.stem}\b", text)
            )
        )
        uses += len(re.findall(rf"\b{constant}\b", source)) - 1  # not counting its own binding
        assert uses, f"{module.name}: {constant} is never run; delete it from {sql_file.name}"


def test_a_query_without_a_description_or_with_a_repeated_name_fails_at_load(tmp_path: Path):
    (tmp_path / "bare.sql").write_text(
        "-- header\n\n-- one --\n-- why\nSELECT 1\n\n-- two --\nSELECT 2\n"
    )
    with pytest.raises(ValueError, match="why"):
        load_queries(tmp_path / "bare.py")
    (tmp_path / "twice.sql").write_text(
        "-- one --\n-- why\nSELECT 1\n\n-- one --\n-- why again\nSELECT 2\n"
    )
    with pytest.raises(ValueError, match="twice"):
        load_queries(tmp_path / "twice.py")
    (tmp_path / "good.sql").write_text(
        "-- header\n\n-- one --\n-- why\n-- and more\nSELECT 1\n  -- inner\nFROM t\n"
    )
    assert load_queries(tmp_path / "good.py") == {"one": "SELECT 1\n  -- inner\nFROM t"}


def test_every_query_that_writes_usage_is_listed_in_quotas():
    quotas_doc = importlib.import_module("app.engine.quotas").__doc__
    writers = [
        name
        for p in SQL_FILES
        for name, q in load_queries(p).items()
        if "INSERT INTO usage_monthly" in q
    ]
    assert writers
    for name in writers:
        assert f"`{name}`" in quotas_doc, (
            f"{name} writes usage_monthly: list it in app/engine/quotas.py"
        )


def test_jobs_are_inserted_in_one_place_under_named_tasks():
    writers = [
        p.relative_to(ROOT).as_posix()
        for p in [*SQL_FILES, *PYTHON]
        if "INSERT INTO procrastinate_jobs" in p.read_text(encoding="utf-8")
    ]
    assert writers == ["app/core/queue.sql"]
    task_names = {
        v
        for k, v in vars(queue_module).items()
        if k.isupper() and isinstance(v, str) and v.startswith("baton.")
    }
    for text in PYTHON.values():
        for literal in re.findall(r"""name=["'](baton\.[a-z_]+)""", text):
            pytest.fail(
                f"task {literal} is named by a string: use its constant in app/core/queue.py"
            )
    importlib.import_module("worker.tasks")
    registered = {name for name in queue_module.queue.tasks if name.startswith("baton.")}
    assert registered == task_names
    # The advance job is queued by baton_wake_run, a migration: its task name cannot follow a rename.
    assert f"'{queue_module.ADVANCE_RUN}'" in (ROOT / "sql" / "0005_engine.sql").read_text(
        encoding="utf-8"
    )
