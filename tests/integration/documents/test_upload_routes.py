"""The file workflows over HTTP (no worker): the start forms answer at the picker's addresses,
uploads are checked by content and size with each refusal named, the run starts with its files as
artifacts, request bodies are capped, and another user's runs, reports and charts are 404."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time

import pytest
from litestar.testing import AsyncTestClient

from tests.integration.documents.conftest import start_with_files
from tests.integration.documents.csvs import sales_csv
from tests.integration.documents.pdfs import text_pdf
from tests.integration.workflows.web import signed_in
from tests.support.fixtures import forget_ip_limits, make_test_llm
from tests.support.web import htmx, token

PDF = "application/pdf"


@pytest.fixture
async def small_limits_client(model_settings, database_url, model):
    """A Baton whose limits are 1 MB per PDF, 2 MB in all, 1 MB per CSV."""
    from app.web.app import create_app

    settings = dataclasses.replace(
        model_settings, doc_max_file_mb=1, doc_max_total_mb=2, csv_max_mb=1
    )
    forget_ip_limits(database_url)
    app = create_app(settings, database_url, run_worker=False, llm=make_test_llm(settings))
    async with AsyncTestClient(app) as client:
        client.follow_redirects = False
        yield client


async def run_of(pool, user_id: int) -> dict:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT * FROM runs WHERE owner_id = %s ORDER BY created_at DESC LIMIT 1",
                (user_id,),
            )
        ).fetchone()


def big_pdf(size: int) -> bytes:
    data = text_pdf("Big", pages=1)
    return data + b"%" + b"x" * (size - len(data))  # trailing bytes after %%EOF: still a PDF


async def test_the_picker_opens_the_upload_forms(app_client, pool):
    await signed_in(app_client, pool)
    picker = await app_client.get(
        "/chat/workflows?conversation_id=3", headers={"HX-Request": "true"}
    )
    assert 'hx-get="/chat/workflows/document-processing?conversation_id=3"' in picker.text
    assert 'hx-get="/chat/workflows/data-analysis?conversation_id=3"' in picker.text
    form = await app_client.get(
        "/chat/workflows/document-processing?conversation_id=3", headers={"HX-Request": "true"}
    )
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    assert 'type="file" name="files" accept="application/pdf,.pdf" multiple' in form.text
    assert (
        "Up to 50 PDFs, 20 MB each, 200 MB in all" in form.text
        and 'name="conversation_id" value="3"' in form.text
    )
    page = await app_client.get("/chat/workflows/data-analysis")
    assert (
        "<html" in page.text
        and 'type="file" name="file"' in page.text
        and "Up to 100 MB" in page.text
    )


async def test_pdf_uploads_refuse_each_bad_file_by_name_and_start_with_the_rest(
    small_limits_client, pool
):
    client = small_limits_client
    _, user_id = await signed_in(client, pool)
    csrf = await token(client)
    files = [
        ("files", ("alpha.pdf", text_pdf("Alpha"), PDF)),
        ("files", ("notes.pdf", b"just text, named .pdf", PDF)),
        ("files", ("photo.pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 100, PDF)),
        ("files", ("../../etc/big [v2].pdf", big_pdf(1024 * 1024 + 10), PDF)),
        ("files", ("alpha.pdf", text_pdf("Alpha again"), PDF)),
        ("files", ("fill-1.pdf", big_pdf(900_000), PDF)),
        ("files", ("fill-2.pdf", big_pdf(900_000), PDF)),
        ("files", ("fill-3.pdf", big_pdf(900_000), PDF)),
    ]
    response = await client.post(
        "/chat/workflows/document-processing",
        files=files,
        data={"question": "What changed?", "model": "", "_csrf_token": csrf},
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/chat/")
    run = await run_of(pool, user_id)
    assert run["workflow"] == "document-processing" and run["status"] == "queued"
    assert [d["name"] for d in run["input"]["documents"]] == [
        "alpha.pdf",
        "alpha (2).pdf",
        "fill-1.pdf",
        "fill-2.pdf",
    ]
    assert {r["name"]: r["reason"] for r in run["input"]["rejected"]} == {
        "notes.pdf": "not a PDF (its content is not PDF)",
        "photo.pdf": "not a PDF (a PNG image)",
        "big _v2_.pdf": "larger than 1 MB (the limit per file)",
        "fill-3.pdf": "over the 2 MB limit for all files together",
    }
    async with pool.connection() as conn:
        stored = await (
            await conn.execute(
                "SELECT name, role, run_id, owner_id FROM artifacts WHERE run_id = %s ORDER BY name",
                (run["id"],),
            )
        ).fetchall()
    assert [(a["name"], a["role"], a["owner_id"]) for a in stored] == [
        ("input/01-alpha.pdf", "input", user_id),
        ("input/02-alpha (2).pdf", "input", user_id),
        ("input/03-fill-1.pdf", "input", user_id),
        ("input/04-fill-2.pdf", "input", user_id),
    ]


async def test_when_no_file_is_usable_the_form_comes_back_with_the_reasons_and_the_question(
    app_client, pool
):
    _, user_id = await signed_in(app_client, pool)
    csrf = await token(app_client)
    response = await app_client.post(
        "/chat/workflows/document-processing",
        headers=htmx(csrf),
        files=[("files", ("a.pdf", b"", PDF)), ("files", ("b.pdf", b"PK\x03\x04zip", PDF))],
        data={"question": "Keep this question", "model": "gpt-4o"},
    )
    assert response.status_code == 422
    assert "<strong>a.pdf</strong>: the file is empty" in response.text
    assert "<strong>b.pdf</strong>: not a PDF (a ZIP or Excel (.xlsx) file)" in response.text
    assert ">Keep this question</textarea>" in response.text and 'value="gpt-4o"' in response.text
    assert await run_of(pool, user_id) is None
    missing_question = await app_client.post(
        "/chat/workflows/document-processing",
        headers=htmx(csrf),
        files=[("files", ("a.pdf", text_pdf("A"), PDF))],
        data={"question": ""},
    )
    assert missing_question.status_code == 422 and "field-error" in missing_question.text
    async with pool.connection() as conn:  # nothing stored for a refused start
        assert (
            await (
                await conn.execute(
                    "SELECT count(*) AS n FROM artifacts WHERE owner_id = %s", (user_id,)
                )
            ).fetchone()
        )["n"] == 0


async def test_csv_uploads_are_checked_and_start_a_run(small_limits_client, pool):
    client = small_limits_client
    _, user_id = await signed_in(client, pool)
    csrf = await token(client)
    cases = [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "this is a PNG image, not a CSV"),
        (b"a,b,c\n1,2,3\n" + b"1,2\n4,5,6,7\n" * 20, "Not a consistent table"),
        (b"x,y\n" + b"1,2\n" * 400_000, "larger than 1 MB"),
    ]
    for data, reason in cases:
        refused = await client.post(
            "/chat/workflows/data-analysis",
            headers=htmx(csrf),
            files={"file": ("t.csv", data, "text/csv")},
            data={"question": ""},
        )
        assert refused.status_code == 422 and reason in refused.text, refused.text
    assert await run_of(pool, user_id) is None
    ok = await client.post(
        "/chat/workflows/data-analysis",
        files={"file": ("sales.csv", sales_csv(), "text/csv")},
        data={"question": "Trends?", "_csrf_token": csrf},
    )
    assert ok.status_code == 303
    run = await run_of(pool, user_id)
    assert run["workflow"] == "data-analysis" and run["input"]["file"]["name"] == "sales.csv"
    assert run["input"]["question"] == "Trends?"


async def test_bodies_over_the_limit_and_posts_without_csrf_are_refused(small_limits_client, pool):
    client = small_limits_client
    await signed_in(client, pool)
    csrf = await token(client)
    too_big = await client.post(
        "/chat/workflows/data-analysis",
        headers=htmx(csrf),
        files={"file": ("t.csv", b"x,y\n" + b"1,2\n" * 600_000, "text/csv")},
    )
    assert too_big.status_code == 413
    no_csrf = await client.post(
        "/chat/workflows/data-analysis", files={"file": ("t.csv", sales_csv(), "text/csv")}
    )
    assert no_csrf.status_code == 403


async def test_another_users_run_report_and_charts_are_not_found(app_client, pool):
    _, owner = await signed_in(app_client, pool)
    run = await start_with_files(
        pool, owner, "document-processing", [("a.pdf", PDF, text_pdf("A"))], question="Why?"
    )
    async with pool.connection() as conn:
        svg = await (
            await conn.execute(
                "INSERT INTO artifacts (owner_id, run_id, name, content_type, size, data, role) "
                "VALUES (%s, %s, 'chart/x.svg', 'image/svg+xml', 5, '<svg/>', 'internal') RETURNING id",
                (owner, run.id),
            )
        ).fetchone()
        await conn.execute(
            "INSERT INTO artifacts (owner_id, run_id, name, content_type, size, data, role) "
            "VALUES (%s, %s, 'r.html', 'text/html; charset=utf-8', 4, '<p>', 'output')",
            (owner, run.id),
        )
    mine = await app_client.get(f"/uploads/files/{svg['id']}")
    assert mine.status_code == 200 and mine.headers["content-type"].startswith("image/svg+xml")
    report = await app_client.get(f"/uploads/runs/{run.id}/report")
    assert report.status_code == 200 and "sandbox" in report.headers["content-security-policy"]
    await signed_in(app_client, pool)  # someone else
    csrf = await token(app_client)
    assert (await app_client.get(f"/uploads/files/{svg['id']}")).status_code == 404
    assert (await app_client.get(f"/uploads/runs/{run.id}/report")).status_code == 404
    for action in ("review", "drill"):
        answer = await app_client.post(
            f"/uploads/runs/{run.id}/{action}", headers=htmx(csrf), data={"action": "finish"}
        )
        assert answer.status_code == 404


async def test_starting_inside_a_conversation_appends_the_live_run_card(app_client, pool):
    _, user_id = await signed_in(app_client, pool)
    async with pool.connection() as conn:
        chat = (
            await (
                await conn.execute(
                    "INSERT INTO conversations (user_id, title) VALUES (%s, 'Chat') RETURNING id",
                    (user_id,),
                )
            ).fetchone()
        )["id"]
    csrf = await token(app_client, f"/chat/{chat}")
    response = await app_client.post(
        "/chat/workflows/data-analysis",
        headers=htmx(csrf),
        files={"file": ("sales.csv", sales_csv(), "text/csv")},
        data={"question": "", "conversation_id": str(chat)},
    )
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#messages"
    run = await run_of(pool, user_id)
    assert (
        run["chat_id"] == chat
        and f'id="run-{run["id"]}"' in response.text
        and "Data analysis" in response.text
    )


async def test_the_review_form_excludes_and_edits_then_the_run_goes_on(
    app_client, pool, worker, doc_model
):
    from tests.integration.workflows.conftest import waiting_hook
    from tests.support.engine import wait_status

    _, owner = await signed_in(app_client, pool)
    run = await start_with_files(
        pool,
        owner,
        "document-processing",
        [(f"{n}.pdf", PDF, text_pdf(n.title())) for n in ("a", "b", "c")],
        question="What grows?",
    )
    await waiting_hook(pool, run.id, "review summaries", timeout=20)
    card = await app_client.get(f"/chat/runs/{run.id}/card")
    assert 'name="summary-1"' in card.text and 'name="exclude" value="2"' in card.text
    assert 'action="/approvals/' not in card.text  # the panel's own form, not the generic one
    csrf = await token(app_client)
    answer = await app_client.post(
        f"/uploads/runs/{run.id}/review",
        headers=htmx(csrf),
        data={
            "exclude": ["2", "99", "x"],
            "summary-0": "The document a.pdf discusses growth [a.pdf p.2].",
            "summary-1": "Edited b [b.pdf p.1].",
            "action": "continue",
        },
    )
    assert answer.status_code == 200 and "run-card" in answer.text
    done = await wait_status(pool, run.id, "completed", "failed", timeout=30)
    assert done["status"] == "completed", done["error"]
    assert done["output"]["kept"] == ["a.pdf", "b.pdf"] and done["output"]["excluded"] == ["c.pdf"]
    final = await app_client.get(f"/chat/runs/{run.id}/card")
    assert (
        "3 documents · 1 not included</summary>" in final.text
        and "Excluded by the review: c.pdf." in final.text
    )
    async with pool.connection() as conn:
        hook = await (
            await conn.execute("SELECT response FROM hooks WHERE run_id = %s", (run.id,))
        ).fetchone()
    assert hook["response"] == {
        "exclude": [2],
        "edits": {"1": "Edited b [b.pdf p.1]."},
    }  # unchanged text is no edit
    again = await app_client.post(
        f"/uploads/runs/{run.id}/review", headers=htmx(csrf), data={"action": "continue"}
    )
    assert again.status_code == 404  # nothing waits any more


async def test_the_drill_form_needs_a_question_or_a_known_column_and_finish_ends_the_loop(
    app_client, pool, worker, model
):
    from tests.integration.workflows.conftest import waiting_hook
    from tests.support.engine import wait_status

    _, owner = await signed_in(app_client, pool)
    run = await start_with_files(
        pool, owner, "data-analysis", [("s.csv", "text/csv", sales_csv(rows=40))]
    )
    await waiting_hook(pool, run.id, "drill-down 1", timeout=20)
    csrf = await token(app_client)
    empty = await app_client.post(
        f"/uploads/runs/{run.id}/drill",
        headers=htmx(csrf),
        data={"action": "ask", "question": " ", "column": "no-such-column"},
    )
    assert empty.status_code == 422 and "Ask a question or pick a column" in empty.text
    picked = await app_client.post(
        f"/uploads/runs/{run.id}/drill",
        headers=htmx(csrf),
        data={"action": "ask", "column": "qty", "filter": "city = 'Köln'"},
    )
    assert picked.status_code == 200
    await waiting_hook(pool, run.id, "drill-down 2", timeout=20)
    card = await app_client.get(f"/chat/runs/{run.id}/card")
    assert (
        "max(&#34;qty&#34;) AS max FROM data WHERE city = &#39;Köln&#39;" in card.text
        and 'src="/uploads/files/' in card.text
    )
    finish = await app_client.post(
        f"/uploads/runs/{run.id}/drill", headers=htmx(csrf), data={"action": "finish"}
    )
    assert finish.status_code == 200
    done = await wait_status(pool, run.id, "completed", "failed", timeout=30)
    assert done["status"] == "completed" and done["output"]["drill_downs"] == 1


async def test_a_run_held_back_by_the_model_rate_limit_says_so_with_its_progress(
    app_client, pool, worker, doc_model, model_settings
):
    from tests.support.engine import wait_status
    from tests.support.fixtures import model_runtime

    _, owner = await signed_in(app_client, pool)
    # One summary a minute: the first goes, the other two wait for the window.
    async with model_runtime(dataclasses.replace(model_settings, doc_summary_rate=(1, 60.0))):
        run = await start_with_files(
            pool,
            owner,
            "document-processing",
            [(f"{n}.pdf", PDF, text_pdf(n.title())) for n in ("r1", "r2", "r3")],
            question="What is rate limited?",
        )
        deadline, card = time.monotonic() + 30, ""
        while "waiting for the model rate limit, next call in" not in card:
            assert time.monotonic() < deadline, card[-3000:]
            await asyncio.sleep(0.1)
            card = (
                await app_client.get(f"/chat/runs/{run.id}/card", headers={"HX-Request": "true"})
            ).text
        assert re.search(r"waiting for the model rate limit, next call in \d+ s<", card)
        assert re.search(r'class="run-progress-label">summarise documents [0-2]/3 · \d+%<', card)
        dashboard = (await app_client.get(f"/workflows/{run.id}")).text
        assert "waiting for the model rate limit, next call in" in dashboard
        csrf = await token(app_client)
        await app_client.post(
            f"/chat/runs/{run.id}/cancel",
            data={"_csrf_token": csrf},
            headers={"HX-Request": "true"},
        )
        await wait_status(pool, run.id, "cancelled", timeout=20)
