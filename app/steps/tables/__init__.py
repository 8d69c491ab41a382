"""CSV files as tables, one job a module:

- `csv_load`: detect (encoding, delimiter, shape) and load a CSV into DuckDB, kept as Parquet;
- `profile`: what the table holds (types, missing and distinct values, statistics, correlations);
- `overview`: the overview charts of a profiled table (drawn by app.steps.charts);
- `query_guard`: the read-only query of a loaded table in a sealed, time-limited DuckDB;
- `database`: the connection, table name, identifiers, column types and JSON-safe values they share.

DuckDB is imported only where it runs: the web imports the detection functions for its upload
checks and should not pay for it. Callers use the names below (`tables.load_csv(...)`).
"""

from app.steps.tables.csv_load import (
    SAMPLE_BYTES,
    LoadedTable,
    NotTabular,
    check_structure,
    detect_delimiter,
    detect_encoding,
    load_csv,
    text_sample,
)
from app.steps.tables.database import is_numeric, quote_ident
from app.steps.tables.query_guard import (
    QUERY_MAX_CHARS,
    QUERY_MAX_ROWS,
    QUERY_TIMEOUT_S,
    QueryFailed,
    QueryRefused,
    QueryResult,
    check_query,
    run_query,
    sandbox,
)

__all__ = [
    "QUERY_MAX_CHARS",
    "QUERY_MAX_ROWS",
    "QUERY_TIMEOUT_S",
    "SAMPLE_BYTES",
    "LoadedTable",
    "NotTabular",
    "QueryFailed",
    "QueryRefused",
    "QueryResult",
    "check_query",
    "check_structure",
    "detect_delimiter",
    "detect_encoding",
    "is_numeric",
    "load_csv",
    "quote_ident",
    "run_query",
    "sandbox",
    "text_sample",
]
