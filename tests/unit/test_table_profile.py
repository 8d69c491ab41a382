"""The data profile counts distinct values exactly (a user checks them against their spreadsheet),
and says "≈" where it only estimates them, on tables too large to count."""

from __future__ import annotations

from pathlib import Path

from app.core.pdf import render_html
from app.steps import tables
from app.steps.tables import profile


def known_csv() -> tuple[bytes, dict[str, int]]:
    """180 rows whose columns have a known number of distinct values: prices 178 (two repeat),
    units 81, dates 56, products 3."""
    lines = ["product,price,units,day"]
    for i in range(180):
        price = f"{10 + (i if i < 178 else i - 100) * 0.37:.2f}"
        day = f"2024-{1 + (i % 56) // 28:02d}-{1 + (i % 56) % 28:02d}"
        lines.append(f"{['tea', 'coffee', 'cocoa'][i % 3]},{price},{i % 81},{day}")
    rows = [line.split(",") for line in lines[1:]]
    truth = {name: len({r[k] for r in rows}) for k, name in enumerate(lines[0].split(","))}
    assert truth == {"product": 3, "price": 178, "units": 81, "day": 56}
    return ("\n".join(lines) + "\n").encode(), truth


def test_distinct_counts_are_exact(tmp_path: Path):
    data, truth = known_csv()
    loaded = tables.load_csv(data, tmp_path)
    shown = {c["name"]: (c["distinct"], c["distinct_approx"]) for c in loaded.profile["columns"]}
    assert shown == {name: (n, False) for name, n in truth.items()}
    html = render_html(
        "data_report.html",
        title="t",
        date="d",
        file_name="f.csv",
        profile=loaded.profile,
        model="m",
        question="",
        drills=[],
        overview=[],
        insights_html="",
        workflow_title="Data analysis",
    )
    assert '<td class="n">178</td>' in html and "≈" not in html


def test_distinct_counts_of_huge_tables_are_marked_as_estimates(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(profile, "EXACT_DISTINCT_ROWS", 100)  # 180 rows count as huge here
    data, _ = known_csv()
    loaded = tables.load_csv(data, tmp_path)
    assert all(c["distinct_approx"] for c in loaded.profile["columns"])
    html = render_html(
        "data_report.html",
        title="t",
        date="d",
        file_name="f.csv",
        profile=loaded.profile,
        model="m",
        question="",
        drills=[],
        overview=[],
        insights_html="",
        workflow_title="Data analysis",
    )
    assert html.count("≈ ") == 4
