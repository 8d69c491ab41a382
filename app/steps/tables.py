"""CSV files as tables: detect, load, profile (DuckDB), and run read-only queries in a sandbox.

    table = load_csv(data, work_dir)        # NotTabular with a sentence for a file that is no table
    table.parquet                           # the loaded table, for later steps (an artifact)
    table.profile                           # rows, columns, types, missing, duplicates, stats, correlations
    result = run_query(parquet_path, sql)   # QueryRefused / QueryFailed with a sentence

The query sandbox: the statement must be one SELECT (DuckDB's own parser decides) that reads only
the loaded table `data` (and its own CTEs): no table functions (read_csv, read_text, glob, …), no
other tables, files or catalogs. It then runs on an in-memory database holding only that table,
with external access off (no files, no network, no extensions) and the configuration locked, under
a memory limit and a statement time limit (interrupted when it runs over). Blocking: call in a thread.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

SAMPLE_BYTES = 1_000_000
CHECK_ROWS = 500
MAX_PROFILED_COLUMNS = 60
MAX_TOP_COLUMNS = 20
MAX_CORR_COLUMNS = 10
QUERY_TIMEOUT_S = 10.0
QUERY_MAX_ROWS = 200
QUERY_MAX_CHARS = 5000
CELL_CHARS = 200
MEMORY_LIMIT = "768MB"
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
           "UBIGINT", "FLOAT", "DOUBLE", "REAL")
TABLE = "data"


class NotTabular(Exception):
    """The file cannot be read as a table; the message says why, for the person who uploaded it."""


class QueryRefused(Exception):
    """The statement is not a read-only query of the loaded table."""


class QueryFailed(Exception):
    """The query was allowed but failed (error, time limit, memory limit)."""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_numeric(type_name: str) -> bool:
    return type_name.split("(")[0] in NUMERIC or type_name.startswith("DECIMAL")


# -- detection ----------------------------------------------------------------------------------

def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        odd, even = sample[1::2], sample[0::2]
        if odd and odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
            return "utf-16-le"
        if even and even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
            return "utf-16-be"
        raise NotTabular("This is a binary file, not a CSV (it contains NUL bytes).")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    matches = list(charset_normalizer.from_bytes(sample[:200_000]))
    if not matches:
        raise NotTabular("The file is not text in any encoding Baton recognises: is it really a CSV?")
    best = min((m.chaos, -m.coherence) for m in matches)
    tied = [m.encoding for m in matches if (m.chaos, -m.coherence) == best]
    encoding = "cp1252" if "cp1252" in tied else tied[0]  # Western European wins a tie
    if min(m.chaos for m in matches) > 0.3:
        raise NotTabular("The file does not read as text in any encoding (too many unprintable characters).")
    return encoding


def text_sample(sample: bytes, encoding: str) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample, final=False)
    controls = sum(1 for ch in text[:100_000] if ch < " " and ch not in "\t\r\n")
    if controls > max(5, len(text[:100_000]) // 200):
        raise NotTabular("This looks like a binary file, not a CSV (it is full of control characters).")
    return text


def detect_delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    try:
        return csv.Sniffer().sniff("\n".join(lines[:30]), delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    best, best_score = ",", 0.0
    for d in (",", ";", "\t", "|"):
        counts = [ln.count(d) for ln in lines]
        if counts and counts[0] > 0:
            score = sum(1 for c in counts if c == counts[0]) / len(counts) * (1 + counts[0] / 100)
            if score > best_score:
                best, best_score = d, score
    return best


def check_structure(text: str, delimiter: str) -> int:
    """The header's field count, after checking that the sample reads as one consistent table."""
    lines = text.splitlines()
    if len(text) >= SAMPLE_BYTES // 2 and lines:
        lines = lines[:-1]  # the sample may end mid-line
    rows = [r for r in csv.reader(io.StringIO("\n".join(lines[: CHECK_ROWS + 1])), delimiter=delimiter) if r]
    if not rows:
        raise NotTabular("The file is empty.")
    if len(rows) < 2:
        raise NotTabular("The file has a header line but no rows of data.")
    width = len(rows[0])
    if width == 1 and (len(rows[0][0]) > 80 or sum(len(r[0]) for r in rows) / len(rows) > 120):
        raise NotTabular("No column separator found: this looks like running text, not a table.")
    off = [i + 1 for i, r in enumerate(rows) if len(r) != width]
    if len(off) > max(2, len(rows) // 10):
        where = ", ".join(str(n) for n in off[:3])
        raise NotTabular(f"Not a consistent table: lines {where} … have a different number of fields "
                         f"than the header ({width}).")
    return width


# -- loading and profiling ----------------------------------------------------------------------

@dataclass
class LoadedTable:
    parquet: Path
    profile: dict
    charts: list[dict] = field(default_factory=list)  # [{title, svg}]


def _connect(work_dir: Path, threads: int = 2):
    import duckdb

    con = duckdb.connect(":memory:", config={
        "threads": threads, "memory_limit": MEMORY_LIMIT, "preserve_insertion_order": True,
        "temp_directory": str(work_dir / "duckdb-tmp"), "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    })
    con.execute("SET enable_progress_bar = false")  # it would print to the worker's stdout
    return con


def write_utf8(data: bytes, encoding: str, path: Path) -> None:
    """The file as UTF-8 on disk, decoded in chunks (a 100 MB file never sits in memory twice)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with open(path, "w", encoding="utf-8", newline="") as out:
        view = memoryview(data)
        chunk = 4 * 1024 * 1024
        try:
            for start in range(0, len(view), chunk):
                out.write(decoder.decode(view[start:start + chunk], final=start + chunk >= len(view)))
        except UnicodeDecodeError as exc:
            raise NotTabular(f"The file is not valid {encoding} text (a bad byte near byte "
                             f"{start + exc.start:,}); save it as UTF-8 and upload it again.") from None


def load_csv(data: bytes, work_dir: Path) -> LoadedTable:
    if not data.strip():
        raise NotTabular("The file is empty.")
    sample = data[:SAMPLE_BYTES]
    encoding = detect_encoding(sample)
    text = text_sample(sample, encoding)
    delimiter = detect_delimiter(text)
    check_structure(text, delimiter)
    csv_path, parquet = work_dir / "table.csv", work_dir / "table.parquet"
    write_utf8(data, encoding, csv_path)
    import duckdb

    con = _connect(work_dir)
    try:
        try:
            con.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM read_csv(?, delim = ?, header = true, quote = '\"', "
                        "escape = '\"', sample_size = 100000)", [str(csv_path), delimiter])
        except duckdb.Error as exc:
            raise NotTabular("The file could not be read as a table: " + _duck_message(exc)) from None
        profile = profile_table(con)
        profile.update(encoding=encoding.replace("-sig", "").upper().replace("_", "-"),
                       delimiter={",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[delimiter])
        con.execute(f"COPY {TABLE} TO '{parquet.as_posix()}' (FORMAT parquet, COMPRESSION zstd)")
        charts = overview_charts(con, profile)
    finally:
        con.close()
    csv_path.unlink(missing_ok=True)
    return LoadedTable(parquet, profile, charts)


def _duck_message(exc: Exception) -> str:
    text = str(exc).split("\n\n")[0]
    return " ".join(text.split())[:300]


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else round(f, 6)


def profile_table(con) -> dict:
    rows = con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    summary = con.execute(f"SUMMARIZE {TABLE}").fetchall()
    distinct = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT * FROM {TABLE})").fetchone()[0]
    columns = []
    for name, ctype, lo, hi, approx_unique, avg, std, q25, q50, q75, _count, _null_pct in summary[:MAX_PROFILED_COLUMNS]:
        col = {"name": name, "type": ctype, "kind": "number" if is_numeric(ctype) else
               "date" if ctype.startswith(("DATE", "TIMESTAMP", "TIME")) else "boolean" if ctype == "BOOLEAN" else "text",
               "missing": 0, "missing_pct": 0.0, "distinct": int(approx_unique or 0),
               "min": _short(lo), "max": _short(hi)}
        if col["kind"] == "number":
            col.update(mean=_num(avg), std=_num(std), q25=_num(q25), median=_num(q50), q75=_num(q75))
        columns.append(col)
    nulls = con.execute("SELECT " + ", ".join(f"count(*) - count({quote_ident(c['name'])})" for c in columns)
                        + f" FROM {TABLE}").fetchone() if columns else ()
    for col, missing in zip(columns, nulls, strict=True):
        col["missing"] = int(missing)
        col["missing_pct"] = round(100 * missing / rows, 2) if rows else 0.0
    for col in [c for c in columns if c["kind"] in ("text", "boolean")][:MAX_TOP_COLUMNS]:
        q = quote_ident(col["name"])
        col["top"] = [[_short(v), int(n)] for v, n in con.execute(
            f"SELECT {q}, count(*) AS n FROM {TABLE} WHERE {q} IS NOT NULL GROUP BY {q} ORDER BY n DESC, {q} LIMIT 5").fetchall()]
    return {"rows": int(rows), "column_count": len(summary), "columns": columns, "duplicates": int(rows - distinct),
            "profiled_columns": len(columns), "correlations": correlations(con, columns)}


def correlations(con, columns: list[dict]) -> list[dict]:
    numeric = [c["name"] for c in columns if c["kind"] == "number" and c["distinct"] > 1][:MAX_CORR_COLUMNS]
    pairs = [(a, b) for i, a in enumerate(numeric) for b in numeric[i + 1:]]
    if not pairs:
        return []
    values = con.execute("SELECT " + ", ".join(f"corr({quote_ident(a)}, {quote_ident(b)})" for a, b in pairs)
                         + f" FROM {TABLE}").fetchone()
    out = [{"a": a, "b": b, "r": _num(r)} for (a, b), r in zip(pairs, values, strict=True) if _num(r) is not None]
    return sorted(out, key=lambda p: -abs(p["r"]))


def _short(value: Any) -> Any:
    value = json_value(value)
    return value[:CELL_CHARS] if isinstance(value, str) else value


def json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, Decimal):
        return _num(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return str(value)


def overview_charts(con, profile: dict, limit: int = 6) -> list[dict]:
    """A histogram per numeric column and the top values per text column (the first few of each),
    and the correlation matrix: SVG, drawn by app.steps.charts."""
    from app.steps import charts

    out = []
    cols = [c for c in profile["columns"] if c["kind"] == "number" and c["distinct"] > 1][:4]
    cols += [c for c in profile["columns"] if c["kind"] in ("text", "boolean") and c.get("top")][: limit - len(cols)]
    for col in cols:
        if col["kind"] == "number" and "INT" in col["type"] and col["distinct"] <= 20:
            q = quote_ident(col["name"])
            counts = con.execute(f"SELECT {q}, count(*) FROM {TABLE} WHERE {q} IS NOT NULL GROUP BY {q} ORDER BY {q}").fetchall()
            out.append({"title": f"Values of {col['name']}", "svg": charts.bar_chart(
                f"Values of {col['name']}", [v for v, _ in counts], [n for _, n in counts], value_label="rows")})
        elif col["kind"] == "number":
            bins = histogram(con, col["name"], col["min"], col["max"])
            out.append({"title": f"Distribution of {col['name']}", "svg": charts.histogram(f"Distribution of {col['name']}", bins)})
        else:
            labels = [str(v) for v, _ in col["top"]]
            out.append({"title": f"Most common values of {col['name']}", "svg": charts.bar_chart(
                f"Most common values of {col['name']}", labels, [n for _, n in col["top"]])})
    numeric = sorted({p["a"] for p in profile["correlations"]} | {p["b"] for p in profile["correlations"]},
                     key=[c["name"] for c in profile["columns"]].index)
    if len(numeric) >= 2:
        r = {(p["a"], p["b"]): p["r"] for p in profile["correlations"]}
        matrix = [[1.0 if a == b else r.get((a, b), r.get((b, a))) for b in numeric] for a in numeric]
        out.append({"title": "Correlations", "svg": charts.heatmap("Correlations (Pearson r)", numeric, matrix)})
    return out


def histogram(con, column: str, lo: Any, hi: Any, bins: int = 20) -> list[tuple[float, float, int]]:
    lo, hi = _num(lo), _num(hi)
    if lo is None or hi is None or hi <= lo:
        return []
    width = (hi - lo) / bins
    q = quote_ident(column)
    counts = dict(con.execute(
        f"SELECT least(floor(({q} - ?) / ?)::INT, ?) AS b, count(*) FROM {TABLE} WHERE {q} IS NOT NULL GROUP BY b",
        [lo, width, bins - 1]).fetchall())
    return [(lo + i * width, lo + (i + 1) * width, int(counts.get(i, 0))) for i in range(bins)]


# -- the query sandbox --------------------------------------------------------------------------

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
        raise QueryRefused("The query is not valid SQL: " + _duck_message(exc)) from None
    if len(statements) != 1:
        raise QueryRefused("Only one statement is allowed, and it must be a SELECT.")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryRefused(f"Only SELECT queries are allowed, not {statements[0].type.name}. "
                           "The data cannot be changed, and files cannot be read or written.")
    con = duckdb.connect(":memory:", config={"enable_external_access": False, "autoload_known_extensions": False})
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    finally:
        con.close()
    if tree.get("error"):
        raise QueryRefused("The query is not a plain SELECT: " + str(tree.get("error_message", ""))[:200])
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
            fn = ((node.get("function") or {}).get("function_name") or "a table function")
            raise QueryRefused(f"The query may read only the table “{TABLE}”: {fn}() is not allowed "
                               "(no files, no other sources).")
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
    con = _connect(work_dir, threads=2)
    con.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM read_parquet(?)", [str(parquet)])
    con.execute("SET enable_external_access = false")
    con.execute("SET allow_community_extensions = false")
    con.execute("SET lock_configuration = true")
    return con


def run_query(con, sql: str, *, timeout_s: float = QUERY_TIMEOUT_S, max_rows: int = QUERY_MAX_ROWS) -> QueryResult:
    import time as clock

    import duckdb

    sql = check_query(sql)
    timer = threading.Timer(timeout_s, con.interrupt)
    t0 = clock.perf_counter()
    timer.start()
    try:
        cursor = con.execute(f"SELECT * FROM ({sql}) AS q LIMIT {max_rows + 1}")
        columns = [{"name": d[0], "type": str(d[1])} for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.InterruptException:
        raise QueryFailed(f"The query ran longer than the {timeout_s:g} s limit and was stopped.") from None
    except duckdb.Error as exc:
        if clock.perf_counter() - t0 >= timeout_s:
            raise QueryFailed(f"The query ran longer than the {timeout_s:g} s limit and was stopped.") from None
        raise QueryFailed("The query failed: " + _duck_message(exc)) from None
    finally:
        timer.cancel()
    ms = (clock.perf_counter() - t0) * 1000
    return QueryResult(sql, columns, [[_short(v) for v in row] for row in rows[:max_rows]], len(rows) > max_rows, ms)
