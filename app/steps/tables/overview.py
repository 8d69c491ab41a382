"""The overview charts of a loaded table: a histogram per numeric column and the top values per
text column (the first few of each), and the correlation matrix, as SVG drawn by app.steps.charts."""

from __future__ import annotations

from typing import Any

from app.steps import charts
from app.steps.tables.database import TABLE, num, quote_ident


def overview_charts(con, profile: dict, limit: int = 6) -> list[dict]:
    out = []
    cols = [c for c in profile["columns"] if c["kind"] == "number" and c["distinct"] > 1][:4]
    cols += [c for c in profile["columns"] if c["kind"] in ("text", "boolean") and c.get("top")][
        : limit - len(cols)
    ]
    for col in cols:
        if col["kind"] == "number" and "INT" in col["type"] and col["distinct"] <= 20:
            q = quote_ident(col["name"])
            counts = con.execute(
                f"SELECT {q}, count(*) FROM {TABLE} WHERE {q} IS NOT NULL GROUP BY {q} ORDER BY {q}"
            ).fetchall()
            out.append(
                {
                    "title": f"Values of {col['name']}",
                    "svg": charts.bar_chart(
                        f"Values of {col['name']}",
                        [v for v, _ in counts],
                        [n for _, n in counts],
                        value_label="rows",
                    ),
                }
            )
        elif col["kind"] == "number":
            bins = histogram(con, col["name"], col["min"], col["max"])
            out.append(
                {
                    "title": f"Distribution of {col['name']}",
                    "svg": charts.histogram(f"Distribution of {col['name']}", bins),
                }
            )
        else:
            labels = [str(v) for v, _ in col["top"]]
            out.append(
                {
                    "title": f"Most common values of {col['name']}",
                    "svg": charts.bar_chart(
                        f"Most common values of {col['name']}", labels, [n for _, n in col["top"]]
                    ),
                }
            )
    numeric = sorted(
        {p["a"] for p in profile["correlations"]} | {p["b"] for p in profile["correlations"]},
        key=[c["name"] for c in profile["columns"]].index,
    )
    if len(numeric) >= 2:
        r = {(p["a"], p["b"]): p["r"] for p in profile["correlations"]}
        matrix = [
            [1.0 if a == b else r.get((a, b), r.get((b, a))) for b in numeric] for a in numeric
        ]
        out.append(
            {
                "title": "Correlations",
                "svg": charts.heatmap("Correlations (Pearson r)", numeric, matrix),
            }
        )
    return out


def histogram(con, column: str, lo: Any, hi: Any, bins: int = 20) -> list[tuple[float, float, int]]:
    lo, hi = num(lo), num(hi)
    if lo is None or hi is None or hi <= lo:
        return []
    width = (hi - lo) / bins
    q = quote_ident(column)
    counts = dict(
        con.execute(
            f"SELECT least(floor(({q} - ?) / ?)::INT, ?) AS b, count(*) FROM {TABLE} WHERE {q} IS NOT NULL GROUP BY b",
            [lo, width, bins - 1],
        ).fetchall()
    )
    return [(lo + i * width, lo + (i + 1) * width, int(counts.get(i, 0))) for i in range(bins)]
