"""The read-only query guard: a statement runs only if it is one SELECT (DuckDB's own parser decides)
that reads only the loaded table `data` (and its own CTEs): no table functions (read_csv, read_text,
glob, …), no other tables, files or catalogs. It then runs on an in-memory database holding only that
table, with external access off (no files, no network, no extensions) and the configuration locked,
under a memory limit and a statement time limit (interrupted when it runs over). Blocking: call in a
thread.

    check_query(sql)                        # QueryRefused with a sentence
    con = sandbox(parquet, work_dir)
    result = run_query(con, sql)            # QueryRefused / QueryFailed with a sentence
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.steps.tables.database import TABLE, connect, duck_message, short

QUERY_TIMEOUT_S = 10.0
QUERY_MAX_ROWS = 200
QUERY_MAX_CHARS = 5000


class QueryRefused(Exception):
    """The statement is not a read-only query of the loaded table."""


class QueryFailed(Exception):
    """The query was allowed but failed (error, time limit, memory limit)."""


def check_query(sql: str) -> str:
    """The statement, cleaned, if it is one SELECT reading only `data`; QueryRefused otherwise."""
    import duckdb

    sql = sql.strip().rstrip(";").strip()
    if not sql:
        raise QueryRefused("The query is empty.")
    if len(sql) > QUERY_MAX_CHARS:
        raise QueryRefused(f"The query is too long (at most {QUERY_MAX_CHARS:,} characters).")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused("The query is not valid SQL: " + duck_message(exc)) from None
    if len(statements) != 1:
        raise QueryRefused("Only one statement is allowed, and it must be a SELECT.")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryRefused(
            f"Only SELECT queries are allowed, not {statements[0].type.name}. "
            "The data cannot be changed, and files cannot be read or written."
        )
    con = duckdb.connect(
        ":memory:", config={"enable_external_access": False, "autoload_known_extensions": False}
    )
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    finally:
        con.close()
    if tree.get("error"):
        raise QueryRefused(
            "The query is not a plain SELECT: " + str(tree.get("error_message", ""))[:200]
        )
    ctes: set[str] = set()
    _collect_ctes(tree, ctes)
    _check_node(tree, ctes | {TABLE})
    return sql


def _collect_ctes(node: Any, names: set[str]) -> None:
    if isinstance(node, dict):
        for entry in (node.get("cte_map") or {}).get("map") or []:
            if isinstance(entry, dict) and entry.get("key"):
                names.add(str(entry["key"]).lower())
        for value in node.values():
            _collect_ctes(value, names)
    elif isinstance(node, list):
        for value in node:
            _collect_ctes(value, names)


def _check_node(node: Any, tables: set[str]) -> None:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            fn = (node.get("function") or {}).get("function_name") or "a table function"
            raise QueryRefused(
                f"The query may read only the table “{TABLE}”: {fn}() is not allowed "
                "(no files, no other sources)."
            )
        if kind == "BASE_TABLE":
            name = str(node.get("table_name") or "")
            if node.get("schema_name") or node.get("catalog_name") or name.lower() not in tables:
                raise QueryRefused(f"The query may read only the table “{TABLE}”, not “{name}”.")
        for value in node.values():
            _check_node(value, tables)
    elif isinstance(node, list):
        for value in node:
            _check_node(value, tables)


@dataclass
class QueryResult:
    sql: str
    columns: list[dict]
    rows: list[list[Any]]
    truncated: bool
    ms: float


def sandbox(parquet: Path, work_dir: Path):
    """An in-memory database holding only the table, then sealed: no external access, locked."""
    con = connect(work_dir, threads=2)
    con.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM read_parquet(?)", [str(parquet)])
    con.execute("SET enable_external_access = false")
    con.execute("SET allow_community_extensions = false")
    con.execute("SET lock_configuration = true")
    return con


def run_query(
    con, sql: str, *, timeout_s: float = QUERY_TIMEOUT_S, max_rows: int = QUERY_MAX_ROWS
) -> QueryResult:
    import duckdb

    sql = check_query(sql)
    timer = threading.Timer(timeout_s, con.interrupt)
    t0 = time.perf_counter()
    timer.start()
    try:
        cursor = con.execute(f"SELECT * FROM ({sql}) AS q LIMIT {max_rows + 1}")
        columns = [{"name": d[0], "type": str(d[1])} for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.InterruptException:
        raise QueryFailed(
            f"The query ran longer than the {timeout_s:g} s limit and was stopped."
        ) from None
    except duckdb.Error as exc:
        if time.perf_counter() - t0 >= timeout_s:
            raise QueryFailed(
                f"The query ran longer than the {timeout_s:g} s limit and was stopped."
            ) from None
        raise QueryFailed("The query failed: " + duck_message(exc)) from None
    finally:
        timer.cancel()
    ms = (time.perf_counter() - t0) * 1000
    return QueryResult(
        sql, columns, [[short(v) for v in row] for row in rows[:max_rows]], len(rows) > max_rows, ms
    )
