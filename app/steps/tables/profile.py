"""What a loaded table holds: rows, columns and their types, missing values, distinct values,
duplicates, numeric statistics, the most common values of text columns, and correlations (DuckDB)."""

from __future__ import annotations

from app.steps.tables.database import TABLE, is_numeric, num, quote_ident, short

MAX_PROFILED_COLUMNS = 60
MAX_TOP_COLUMNS = 20
MAX_CORR_COLUMNS = 10
# Distinct values are counted exactly up to this many rows. Past it, a column's count is DuckDB's
# HyperLogLog estimate (a few per cent off either way, so never shown as exact: `distinct_approx`).
EXACT_DISTINCT_ROWS = 1_000_000


def profile_table(con) -> dict:
    rows = con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    summary = con.execute(f"SUMMARIZE {TABLE}").fetchall()
    distinct = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT * FROM {TABLE})").fetchone()[0]
    columns = []
    for name, ctype, lo, hi, approx_unique, avg, std, q25, q50, q75, _count, _null_pct in summary[
        :MAX_PROFILED_COLUMNS
    ]:
        col = {
            "name": name,
            "type": ctype,
            "kind": "number"
            if is_numeric(ctype)
            else "date"
            if ctype.startswith(("DATE", "TIMESTAMP", "TIME"))
            else "boolean"
            if ctype == "BOOLEAN"
            else "text",
            "missing": 0,
            "missing_pct": 0.0,
            "distinct": int(approx_unique or 0),
            "distinct_approx": True,
            "min": short(lo),
            "max": short(hi),
        }
        if col["kind"] == "number":
            col.update(mean=num(avg), std=num(std), q25=num(q25), median=num(q50), q75=num(q75))
        columns.append(col)
    nulls = (
        con.execute(
            "SELECT "
            + ", ".join(f"count(*) - count({quote_ident(c['name'])})" for c in columns)
            + f" FROM {TABLE}"
        ).fetchone()
        if columns
        else ()
    )
    for col, missing in zip(columns, nulls, strict=True):
        col["missing"] = int(missing)
        col["missing_pct"] = round(100 * missing / rows, 2) if rows else 0.0
    if rows <= EXACT_DISTINCT_ROWS:
        for col in columns:  # one column at a time: one hash table in memory, not sixty
            col["distinct"] = int(
                con.execute(
                    f"SELECT count(DISTINCT {quote_ident(col['name'])}) FROM {TABLE}"
                ).fetchone()[0]
            )
            col["distinct_approx"] = False
    for col in [c for c in columns if c["kind"] in ("text", "boolean")][:MAX_TOP_COLUMNS]:
        q = quote_ident(col["name"])
        col["top"] = [
            [short(v), int(n)]
            for v, n in con.execute(
                f"SELECT {q}, count(*) AS n FROM {TABLE} WHERE {q} IS NOT NULL GROUP BY {q} ORDER BY n DESC, {q} LIMIT 5"
            ).fetchall()
        ]
    return {
        "rows": int(rows),
        "column_count": len(summary),
        "columns": columns,
        "duplicates": int(rows - distinct),
        "profiled_columns": len(columns),
        "correlations": correlations(con, columns),
    }


def correlations(con, columns: list[dict]) -> list[dict]:
    numeric = [c["name"] for c in columns if c["kind"] == "number" and c["distinct"] > 1][
        :MAX_CORR_COLUMNS
    ]
    pairs = [(a, b) for i, a in enumerate(numeric) for b in numeric[i + 1 :]]
    if not pairs:
        return []
    values = con.execute(
        "SELECT "
        + ", ".join(f"corr({quote_ident(a)}, {quote_ident(b)})" for a, b in pairs)
        + f" FROM {TABLE}"
    ).fetchone()
    out = [
        {"a": a, "b": b, "r": num(r)}
        for (a, b), r in zip(pairs, values, strict=True)
        if num(r) is not None
    ]
    return sorted(out, key=lambda p: -abs(p["r"]))
