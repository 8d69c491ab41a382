"""A model's headings sit below the page's own: in a card, in the reports' HTML and in their PDFs
(rendered by WeasyPrint, read back with pypdf), and no heading is left alone at the foot of a page."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from pypdf import PdfReader

from app.core.markdown import render_markdown
from app.web.runs.cards import _result
from app.workflows.documents import render_report

MODEL_SUMMARY = "# Summary of {name}\n\n" + (
    "The document argues a point at length, citing its sources [{name}, p. 1]. " * 9
)


def test_a_models_title_is_demoted_below_the_pages_own_headings_and_a_repeated_title_left_out():
    html = render_markdown(
        "# Release notes\n\nIntro.\n\n## Changes\n\nMore.", top=4, title="Release notes"
    )
    assert "Release notes" not in html and "<h4>Changes</h4>" in html and "<h1>" not in html
    assert "<h3>Part</h3>" in render_markdown("# Part", top=3)
    assert "<h1>Chat</h1>" in render_markdown("# Chat")  # a chat reply is a page of its own


def test_the_reviewed_content_card_shows_the_title_once_and_no_larger_than_its_own():
    run = {
        "status": "completed",
        "title": "Quarterly plan",
        "output": {
            "title": "Quarterly plan",
            "approved": True,
            "document": "# Quarterly plan\n\nBody text.\n\n## Goals\n\nGrow.",
        },
    }
    html = str(_result(SimpleNamespace(**run))["html"])
    assert "Quarterly plan" not in html  # the card's title already says it
    assert "<h4>Goals</h4>" in html and not re.search(r"<h[1-3]>", html)
    titled = str(
        _result(SimpleNamespace(**{**run, "title": "Reviewed content"}))["html"]
    )  # a card titled otherwise keeps it, demoted
    assert "<h4>Quarterly plan</h4>" in titled and "<h5>Goals</h5>" in titled


def _report(n: int) -> tuple[str, bytes]:
    kept = [
        {
            "index": i,
            "name": f"doc-{i:02}.pdf",
            "pages": 3,
            "summary": MODEL_SUMMARY.format(name=f"doc-{i:02}.pdf"),
            "edited": False,
        }
        for i in range(n)
    ]
    return render_report(
        {
            "title": "Fifty documents",
            "date": "4 December 2026",
            "question": "What do they say?",
            "analysis": "# Comparison\n\n## Agreement\n\nThey agree [doc-00.pdf, p. 1].",
            "kept": kept,
            "excluded": [],
            "problems": [],
            "rejected": [],
            "model": "test-model",
        }
    )


def test_the_50_document_report_demotes_model_headings_and_strands_none_at_a_page_foot():
    html, pdf = _report(50)
    assert html.count("<h1>") == 1  # the report's title only
    assert (
        "<h4>Summary of doc-07.pdf</h4>" in html and "<h3>Comparison</h3>" in html
    )  # under the h2, the h3
    headings = (
        {f"doc-{i:02}.pdf" for i in range(50)}
        | {f"Summary of doc-{i:02}.pdf" for i in range(50)}
        | {
            "Comparative analysis",
            "Document summaries",
            "Comparison",
            "Agreement",
            "Citations",
            "Contents",
        }
    )
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) > 5
    for number, page in enumerate(pages[:-1], start=1):
        lines = [line.strip() for line in page.extract_text().splitlines() if line.strip()]
        body = [
            line for line in lines if not line.startswith(("Page ", "Generated with AI assistance"))
        ]
        assert body[-1] not in headings, f"page {number} ends with the heading {body[-1]!r}"
