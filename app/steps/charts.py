"""Charts as SVG, drawn on the server: bars (top values, query results), histograms, a correlation
heatmap. No chart library and no script: the geometry is computed here and drawn by the template
templates/reports/data_chart.html with autoescaping, so labels from the data cannot inject markup.
The same SVG shows in the run card (as an image) and inline in the report and its PDF.
"""

from __future__ import annotations

import math
from typing import Any

from app.core.pdf import render_html

WIDTH, HEIGHT = 640, 300
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 16, 36, 64
MAX_BARS = 30


def _label(value: Any, limit: int = 18) -> str:
    text = fmt(value) if isinstance(value, int | float) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        n = int(value)
        return f"{n / 1e6:.1f}M" if abs(n) >= 10_000_000 else f"{n:,}"
    v = float(value)
    if abs(v) >= 1e6 or (0 < abs(v) < 1e-3):
        return f"{v:.2e}"
    return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * step >= raw:
            step *= m
            break
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 0.5 and len(ticks) < 12:
        ticks.append(round(t, 10))
        t += step
    return ticks


def bar_chart(
    title: str, labels: list[Any], values: list[float | int | None], *, value_label: str = ""
) -> str:
    labels, values = (
        labels[:MAX_BARS],
        [v if isinstance(v, int | float) and math.isfinite(v) else 0 for v in values[:MAX_BARS]],
    )
    lo = min(0.0, min(values, default=0))
    ticks = nice_ticks(lo, max(values, default=1) or 1)
    top, bottom = ticks[-1], min(ticks[0], lo)
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def y(v: float) -> float:
        return PAD_TOP + plot_h * (top - v) / ((top - bottom) or 1)

    slot = plot_w / max(len(values), 1)
    rotate = len(labels) > 8
    bars = [
        {
            "x": PAD_LEFT + i * slot + slot * 0.12,
            "y": min(y(v), y(0)),
            "w": slot * 0.76,
            "h": abs(y(0) - y(v)),
            "label": _label(lab, 14 if rotate else max(4, int(slot / 7))),
            "value": fmt(v),
            "full": str(lab),
            "cx": PAD_LEFT + i * slot + slot / 2,
        }
        for i, (lab, v) in enumerate(zip(labels, values, strict=False))
    ]
    return render_html(
        "data_chart.html",
        kind="bars",
        title=title,
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        ticks=[{"y": y(t), "label": fmt(t)} for t in ticks if bottom <= t <= top],
        left=PAD_LEFT,
        right=WIDTH - PAD_RIGHT,
        baseline=y(0),
        rotate=rotate,
        label_y=HEIGHT - PAD_BOTTOM + 14,
        value_label=value_label,
    )


def histogram(title: str, bins: list[tuple[float, float, int]]) -> str:
    if not bins:
        return bar_chart(title, [], [])
    labels = [fmt(lo) for lo, _, _ in bins]
    svg = bar_chart(title, labels, [n for _, _, n in bins], value_label="rows")
    return svg


def heatmap(title: str, names: list[str], matrix: list[list[float | None]]) -> str:
    n = len(names)
    size = min(40.0, (HEIGHT - PAD_TOP - 20) / max(n, 1))
    left = 150
    cells = []
    for i, row in enumerate(matrix):
        for j, r in enumerate(row):
            cells.append(
                {
                    "x": left + j * size,
                    "y": PAD_TOP + i * size,
                    "size": size,
                    "r": "–" if r is None else f"{r:.2f}",
                    "fill": _diverging(r),
                    "dark": r is not None and abs(r) > 0.6,
                }
            )
    return render_html(
        "data_chart.html",
        kind="heatmap",
        title=title,
        width=max(WIDTH, int(left + n * size + 20)),
        height=int(PAD_TOP + n * size + 100),
        cells=cells,
        size=size,
        left=left,
        grid_bottom=PAD_TOP + n * size,
        names=[
            {
                "label": _label(name, 20),
                "full": name,
                "y": PAD_TOP + i * size + size / 2,
                "x": left + i * size + size / 2,
            }
            for i, name in enumerate(names)
        ],
    )


def _diverging(r: float | None) -> str:
    """Blue for positive, red for negative correlation, paler towards 0."""
    if r is None:
        return "#f2f4f7"
    r = max(-1.0, min(1.0, r))
    base = (53, 87, 212) if r >= 0 else (180, 35, 24)
    t = abs(r)
    rgb = [round(255 + (c - 255) * t) for c in base]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def result_chart(columns: list[dict], rows: list[list[Any]], *, numeric: list[int]) -> str | None:
    """A bar chart of a query result when it has a label and a number (or just numbers), else None.
    `numeric`: the positions of the columns that hold numbers (the caller knows the column types)."""
    if not rows or len(rows) > MAX_BARS:
        return None
    if not numeric:
        return None
    labels_at = next((i for i, c in enumerate(columns) if i not in numeric), None)
    value_at = numeric[0] if labels_at is not None or len(numeric) == 1 else numeric[1]
    if labels_at is None and len(numeric) > 1:
        labels_at = numeric[0]
    labels = [row[labels_at] if labels_at is not None else i + 1 for i, row in enumerate(rows)]
    values = [row[value_at] if isinstance(row[value_at], int | float) else 0 for row in rows]
    name = columns[value_at]["name"]
    by = f" by {columns[labels_at]['name']}" if labels_at is not None else ""
    return bar_chart(f"{name}{by}", labels, values, value_label=name)
