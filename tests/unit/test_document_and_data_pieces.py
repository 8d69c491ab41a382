"""The pure pieces of the file workflows: citations, upload names and checks, the query guard, the
rate setting, the charts' escaping."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from app.core.config import ConfigError, load_settings
from app.steps import charts, tables
from app.steps.pdf_text import check_citations, cited_text, with_source
from app.web.uploads.files import Limits, check_pdfs, display_name, unique
from tests.integration.documents.csvs import sales_csv
from tests.integration.documents.pdfs import text_pdf


def test_citations_are_found_checked_and_added_when_missing():
    valid, unknown = check_citations(
        "Growth [a.pdf p.2], risk [a.pdf p.9] and [b.pdf pp. 3-4].", {"a.pdf": 3, "b.pdf": 5}
    )
    assert valid == [("a.pdf", 2), ("b.pdf", 3)] and unknown == [("a.pdf", 9)]
    assert with_source("Says things.", "a.pdf", ["x", "", "y"]).endswith("Source: [a.pdf p.1–3]")
    assert with_source("Says [a.pdf p.2].", "a.pdf", ["x", "y"]) == "Says [a.pdf p.2]."
    text = cited_text("a.pdf", ["one " * 2000, "two " * 2000], budget=2000)
    assert text.startswith("[a.pdf p.1]\none") and "[a.pdf p.2]\ntwo" in text and len(text) < 2400


def test_upload_names_are_safe_to_show_and_cite():
    assert display_name("C:\\Users\\me\\report [final].pdf") == "report _final_.pdf"
    assert display_name("../../etc/\x00passwd\u202e.pdf") == "passwd.pdf"
    assert display_name("") == "document" and len(display_name("x" * 300 + ".pdf")) <= 120
    assert unique(["a.pdf", "A.pdf", "a.pdf"]) == ["a.pdf", "A (2).pdf", "a (3).pdf"]


def test_pdf_checks_name_each_refusal():
    limits = Limits(max_files=2, max_file=50_000, max_total=60_000, max_csv=1)
    pdf = text_pdf("A", pages=1)
    accepted, refused = check_pdfs(
        [
            ("a.pdf", pdf),
            ("b.pdf", b"%PDF-1.4" + b"0" * 60_000),
            ("c.pdf", pdf),
            ("d.pdf", pdf),
            ("e.pdf", b"hello"),
        ],
        limits,
    )
    assert [a.name for a in accepted] == ["a.pdf", "c.pdf"]
    assert [(r.name, r.reason.split(" (")[0]) for r in refused] == [
        ("b.pdf", "larger than 48 KB"),
        ("d.pdf", "more than 2 files: only the first 2 are read"),
        ("e.pdf", "not a PDF"),
    ]


@pytest.mark.parametrize(
    "sql, refusal",
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv() is not allowed"),
        ("SELECT * FROM read_text('/etc/passwd')", "read_text() is not allowed"),
        ("SELECT * FROM '/etc/passwd'", "not “/etc/passwd”"),
        ("SELECT * FROM data WHERE x IN (SELECT * FROM glob('/*'))", "glob() is not allowed"),
        ("COPY data TO '/tmp/out.csv'", "not COPY"),
        ("INSERT INTO data VALUES (1)", "not INSERT"),
        ("SELECT 1; DROP TABLE data", "Only one statement"),
        ("ATTACH '/tmp/x.db' AS x", "not ATTACH"),
        ("SET enable_external_access = true", "not SET"),
        ("SELECT * FROM information_schema.tables", "not “tables”"),
        ("SELECT * FROM duckdb_settings()", "duckdb_settings() is not allowed"),
        ("INSTALL httpfs", "not"),
    ],
)
def test_the_query_guard_refuses_anything_but_a_select_of_the_table(sql, refusal):
    with pytest.raises(tables.QueryRefused, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        tables.check_query(sql)


def test_the_sandbox_runs_selects_and_stops_long_queries():
    with tempfile.TemporaryDirectory() as tmp:
        loaded = tables.load_csv(sales_csv(rows=400), Path(tmp))
        con = tables.sandbox(loaded.parquet, Path(tmp))
        try:
            ok = tables.run_query(
                con,
                "WITH t AS (SELECT city, qty FROM data) SELECT city, sum(qty) AS n FROM t GROUP BY city ORDER BY city;",
            )
            assert [r[0] for r in ok.rows] == ["Genève", "Köln", "Málaga", "Zürich"]
            with pytest.raises(tables.QueryFailed, match="limit and was stopped"):
                tables.run_query(
                    con, "SELECT count(*) FROM data a, data b, data c, data d", timeout_s=0.3
                )
            with pytest.raises(
                Exception, match="disabled|locked"
            ):  # even bypassing the guard, the engine is sealed
                con.execute("SELECT * FROM read_text('/etc/hostname')").fetchall()
            with pytest.raises(Exception, match="locked"):
                con.execute("SET enable_external_access = true")
        finally:
            con.close()


def test_the_summary_rate_setting():
    assert load_settings({}).doc_summary_rate == (20, 60.0)
    assert load_settings({"BATON_DOC_SUMMARY_RATE": "500/h"}).doc_summary_rate == (500, 3600.0)
    assert load_settings({"BATON_DOC_SUMMARY_RATE": "3/1.5s"}).doc_summary_rate == (3, 1.5)
    with pytest.raises(ConfigError, match="BATON_DOC_SUMMARY_RATE"):
        load_settings({"BATON_DOC_SUMMARY_RATE": "lots"})


def test_chart_labels_from_the_data_are_escaped():
    svg = charts.bar_chart(
        "<script>alert(1)</script>", ["<img src=x onerror=alert(1)>", "b"], [3, 4]
    )
    assert "<script>" not in svg and "<img" not in svg and "&lt;img src=x" in svg
    assert svg.startswith("<svg") and svg.count("<rect") >= 3


def test_the_card_counts_documents_live_while_the_maps_run():
    from app.web.uploads.panels import documents_panel

    run = {
        "status": "running",
        "progress": {"done": 23, "total": 50, "label": "extract text"},
        "steps": [],
        "hooks": [],
        "input": {"rejected": [{"name": "big.pdf", "reason": "larger than 20 MB"}]},
        "output": None,
    }
    panel = documents_panel(run)
    assert panel["counts"] == "23/50 extracted" and panel["rejected"][0]["name"] == "big.pdf"
    run["progress"] = {"done": 12, "total": 48, "label": "summarise documents"}
    assert documents_panel(run)["counts"] == "12/48 summarised"
    assert documents_panel({**run, "status": "waiting"})["counts"] is None


def test_a_bad_byte_past_the_sampled_start_is_a_clear_error():
    data = b"a,b\n" + b"1,2\n" * 300_000 + b"\xff\xfe,3\n"  # UTF-8 for 1.2 MB, then not
    with (
        tempfile.TemporaryDirectory() as tmp,
        pytest.raises(
            tables.NotTabular, match=r"not valid utf-8 text \(a bad byte near byte 1,200,004\)"
        ),
    ):
        tables.load_csv(data, Path(tmp))
