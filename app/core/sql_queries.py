"""Named SQL queries kept in a `.sql` file next to the module that runs them (Procrastinate's
format, procrastinate/sql/queries.sql): a `-- name --` line, at least one `-- why` comment line,
then the query, with bound parameters only. A module loads its file once, at import, and binds
each query to a constant (`WRITE_STEP = SQL["write_step"]`), so a misspelt or missing name fails
at import, not when the query first runs; tests/unit/test_sql_queries.py checks every query is
described and used."""

from __future__ import annotations

import re
from pathlib import Path

HEADER = re.compile(r"^-- ([a-z0-9_]+) --\n((?:-- .+\n)+)", re.MULTILINE)
BARE_HEADER = re.compile(r"^-- ([a-z0-9_]+) --$", re.MULTILINE)


def load_queries(module_file: str | Path) -> dict[str, str]:
    """The queries of the `.sql` file beside `module_file` (a module's `__file__`), by name."""
    path = Path(module_file).with_suffix(".sql")
    text = path.read_text(encoding="utf-8")
    parts = HEADER.split(text)  # [file header, name, description, query, name, ...]
    names = parts[1::3]
    if names != BARE_HEADER.findall(text):
        raise ValueError(f"{path}: every query needs a `-- why` line under its `-- name --` line")
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: a query name is used twice")
    return {name: query.strip() for name, query in zip(names, parts[3::3], strict=True)}
