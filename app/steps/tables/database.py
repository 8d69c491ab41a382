"""The DuckDB side that loading, profiling and querying share: the in-memory connection, the one
table's name, identifiers, column types, and values made JSON-safe for the journal."""

from __future__ import annotations

import math
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

TABLE = "data"
MEMORY_LIMIT = "768MB"
CELL_CHARS = 200
NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "REAL",
)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_numeric(type_name: str) -> bool:
    return type_name.split("(")[0] in NUMERIC or type_name.startswith("DECIMAL")


def connect(work_dir: Path, threads: int = 2):
    import duckdb  # slow to import: the web imports this package for the upload checks only

    con = duckdb.connect(
        ":memory:",
        config={
            "threads": threads,
            "memory_limit": MEMORY_LIMIT,
            "preserve_insertion_order": True,
            "temp_directory": str(work_dir / "duckdb-tmp"),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )
    con.execute("SET enable_progress_bar = false")  # it would print to the worker's stdout
    return con


def duck_message(exc: Exception) -> str:
    text = str(exc).split("\n\n")[0]
    return " ".join(text.split())[:300]


def num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else round(f, 6)


def short(value: Any) -> Any:
    value = json_value(value)
    return value[:CELL_CHARS] if isinstance(value, str) else value


def json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return num(value)
    if isinstance(value, Decimal):
        return num(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return str(value)
