"""Real chromium through the file workflows: three PDFs uploaded from the chat's workflow picker →
the summaries review (edit one, exclude one) → the report, its PDF downloaded; a CSV → the profile
and its charts in the run card → one drill-down with its table and chart → Finish → the report."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.accounts import sign_up_on
from tests.integration.documents.conftest import doc_agents
from tests.integration.documents.csvs import sales_csv
from tests.integration.documents.pdfs import text_pdf
from tests.integration.documents.test_data_workflow import data_agents


def sign_up(page: Page, database_url: str) -> None:
    sign_up_on(page, database_url, tier="enterprise", prefix="docs")


def open_workflow(page: Page, title: str) -> None:
    page.goto("/chat")
    page.locator("a.composer-workflows").click()
    page.locator(".workflow-choice", has_text=title).click()
    expect(page.get_by_role("button", name="Upload and start")).to_be_visible()


def test_three_pdfs_review_the_summaries_and_download_the_report(
    page: Page, database_url, model, tmp_path
):
    model.handler = doc_agents
    sign_up(page, database_url)
    paths = []
    for name in ("north.pdf", "south.pdf", "east.pdf"):
        path = tmp_path / name
        path.write_bytes(text_pdf(name.split(".")[0].title(), pages=3))
        paths.append(path)
    open_workflow(page, "Document analysis")
    page.locator('input[name="files"]').set_input_files(paths)
    page.get_by_label("Question or focus").fill("How do the regions see growth?")
    page.get_by_role("button", name="Upload and start").click()

    card = page.locator(".run-card").first
    review = card.locator("form.review-form")
    expect(review).to_be_visible(timeout=45_000)
    expect(review.locator("fieldset")).to_have_count(3)
    expect(review.get_by_role("textbox", name=re.compile("south.pdf"))).to_have_value(
        re.compile(r"\[south.pdf p\.2\]")
    )
    review.get_by_role("textbox", name=re.compile("north.pdf")).fill(
        "North expects strong growth [north.pdf p.3]."
    )
    review.locator("fieldset", has_text="east.pdf").get_by_label("Exclude this document").check()
    with page.expect_response(
        re.compile(r"/chat/runs/.+/card")
    ):  # the card re-reads itself, as on any run event
        page.evaluate("htmx.trigger(document.querySelector('.run-live'), 'sse:resync')")
    page.wait_for_timeout(100)  # swapped: what was typed survives it
    expect(review.get_by_role("textbox", name=re.compile("north.pdf"))).to_have_value(
        "North expects strong growth [north.pdf p.3]."
    )
    expect(
        review.locator("fieldset", has_text="east.pdf").get_by_label("Exclude this document")
    ).to_be_checked()
    review.get_by_role("button", name="Continue to the comparison").click()

    expect(card.get_by_role("link", name="Open the report")).to_be_visible(timeout=45_000)
    expect(card.locator(".run-document")).to_contain_text("[north.pdf p.3]")
    expect(card).to_contain_text("Excluded by the review: east.pdf")
    with page.expect_download() as download:
        card.get_by_role("link", name="Download PDF").click()
    pdf = download.value.path().read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000
    report = page.context.new_page()
    report.goto(card.get_by_role("link", name="Open the report").get_attribute("href"))
    expect(report.locator("#summaries")).to_contain_text(
        "North expects strong growth [north.pdf p.3]."
    )
    expect(report.locator("#not-included")).to_contain_text("Excluded by the reviewer")
    expect(report.get_by_role("heading", name="Comparative analysis")).to_be_visible()


def test_a_csv_with_charts_one_drill_down_and_the_report(page: Page, database_url, model, tmp_path):
    model.handler = data_agents
    sign_up(page, database_url)
    csv = tmp_path / "sales.csv"
    csv.write_bytes(sales_csv(encoding="cp1252", delimiter=";"))
    open_workflow(page, "Data analysis")
    page.locator('input[name="file"]').set_input_files(csv)
    page.get_by_role("button", name="Upload and start").click()

    card = page.locator(".run-card").first
    expect(card.locator(".drill-form")).to_be_visible(timeout=45_000)
    expect(card).to_contain_text("302 rows × 4 columns")
    charts = card.locator("img.data-chart")
    expect(charts.first).to_be_visible()
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.data-chart')].every(i => i.complete && i.naturalWidth > 0)",
        timeout=30_000,
    )
    assert charts.count() >= 3

    card.get_by_role("textbox", name="Question").fill("average price per city")
    card.get_by_role("button", name="Ask").click()
    drill = card.locator("article.drill")
    expect(drill).to_have_count(1, timeout=45_000)
    expect(drill.locator("table")).to_contain_text("Málaga")
    expect(drill.locator("img.drill-chart")).to_be_visible()
    expect(drill).to_contain_text("Málaga has the highest average price.")
    card.get_by_role("button", name="Finish").click()

    expect(card.get_by_role("link", name="Open the report")).to_be_visible(timeout=45_000)
    report = page.context.new_page()
    report.goto(card.get_by_role("link", name="Open the report").get_attribute("href"))
    expect(report.locator("#drills")).to_contain_text("average price per city")
    assert report.locator("svg").count() >= 4
