"""`document-processing` end to end with an in-process worker and the scripted model server:
unreadable PDFs are reported per document and the run goes on; summaries cite their pages; the
review excludes and edits; the analysis and the report carry the citations."""

from __future__ import annotations

from app.engine.hooks import resolve_hook
from app.steps.pdf_text import extract_pdf_text
from tests.integration.documents.conftest import start_with_files
from tests.integration.documents.pdfs import corrupt_pdf, encrypted_pdf, image_only_pdf, text_pdf
from tests.integration.workflows.conftest import waiting_hook
from tests.support.engine import wait_status

PDF = "application/pdf"


def test_unreadable_pdfs_are_reported_with_their_reason():
    assert extract_pdf_text(text_pdf("Alpha", pages=2)).status == "ok"
    scan = extract_pdf_text(image_only_pdf())
    assert (scan.status, scan.page_count) == ("no_text", 2) and "image" in scan.message
    assert extract_pdf_text(encrypted_pdf()).status == "encrypted"
    assert extract_pdf_text(corrupt_pdf()).status == "corrupt"
    assert extract_pdf_text(b"name,value\n1,2\n").message.startswith("Not a PDF")


async def artifacts(pool, run_id) -> dict[str, dict]:
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT id, name, role, content_type, data FROM artifacts WHERE run_id = %s",
                (run_id,),
            )
        ).fetchall()
    return {r["name"]: r for r in rows}


async def test_documents_extract_summarise_review_and_report(pool, worker, user, doc_model):
    files = [
        ("alpha.pdf", PDF, text_pdf("Alpha", pages=3)),
        ("scan.pdf", PDF, image_only_pdf()),
        ("beta.pdf", PDF, text_pdf("Beta", pages=2)),
        ("locked.pdf", PDF, encrypted_pdf()),
        ("broken.pdf", PDF, corrupt_pdf()),
        ("gamma.pdf", PDF, text_pdf("Gamma", pages=4)),
    ]
    run = await start_with_files(
        pool,
        user,
        "document-processing",
        files,
        question="How do they see growth?",
        rejected=[{"name": "huge.pdf", "reason": "larger than 20 MB"}],
    )
    hook = await waiting_hook(pool, run.id, "review summaries", timeout=20)
    show = hook["show"]
    assert [d["name"] for d in show["documents"]] == ["alpha.pdf", "beta.pdf", "gamma.pdf"]
    assert "[alpha.pdf p.2]" in show["content"]
    for name, why in (
        ("scan.pdf", "No extractable text"),
        ("locked.pdf", "Encrypted"),
        ("broken.pdf", "Corrupt"),
    ):
        assert f"**{name}**: {why}" in show["content"]
    summarised = [
        r
        for r in doc_model.requests
        if "careful document analyst" in r.body["messages"][0]["content"]
    ]
    assert len(summarised) == 3
    alpha_prompt = next(
        r.last_user_message for r in summarised if "Document: alpha.pdf" in r.last_user_message
    )
    assert (
        "[alpha.pdf p.3]\nAlpha page 3." in alpha_prompt
        and "How do they see growth?" in alpha_prompt
    )

    async with pool.connection() as conn:
        progress = [
            e["data"]
            for e in await (
                await conn.execute(
                    "SELECT data FROM run_events WHERE run_id = %s AND kind = 'progress' ORDER BY id",
                    (run.id,),
                )
            ).fetchall()
        ]
        await resolve_hook(
            conn,
            hook["token"],
            "continue",
            {"exclude": [5], "edits": {"0": "Edited: Alpha grows [alpha.pdf p.3]."}},
            decided_by="tester",
            owner_id=user,
        )
    counts = [{k: e.get(k) for k in ("done", "total", "label")} for e in progress]
    assert {"done": 6, "total": 6, "label": "extract text"} in counts
    assert {"done": 3, "total": 3, "label": "summarise documents"} in counts
    percents = [float(e["percent"]) for e in progress]
    assert percents == sorted(percents) and percents[-1] > 50  # forward only, across the phases

    done = await wait_status(pool, run.id, "completed", "failed", timeout=30)
    assert done["status"] == "completed", done["error"]
    out = done["output"]
    assert out["kept"] == ["alpha.pdf", "beta.pdf"] and out["excluded"] == ["gamma.pdf"]
    assert {d["name"]: d["status"] for d in out["documents"]} == {
        "alpha.pdf": "ok",
        "scan.pdf": "no_text",
        "beta.pdf": "ok",
        "locked.pdf": "encrypted",
        "broken.pdf": "corrupt",
        "gamma.pdf": "ok",
    }
    analyst = [
        r for r in doc_model.requests if "research analyst" in r.body["messages"][0]["content"]
    ][0]
    assert "Edited: Alpha grows [alpha.pdf p.3]." in analyst.last_user_message
    assert "gamma.pdf" not in analyst.last_user_message
    assert "[alpha.pdf p.3]" in out["analysis"] and "[beta.pdf p.2]" in out["analysis"]

    files_by_name = await artifacts(pool, run.id)
    html = bytes(files_by_name["document-analysis-report.html"]["data"]).decode()
    pdf = bytes(files_by_name["document-analysis-report.pdf"]["data"])
    assert (
        pdf.startswith(b"%PDF")
        and files_by_name["document-analysis-report.pdf"]["role"] == "output"
    )
    for text in (
        "Contents",
        "Comparative analysis",
        "Document summaries",
        "Edited: Alpha grows [alpha.pdf p.3].",
        "summary edited by the reviewer",
        "No extractable text",
        "Encrypted",
        "Corrupt",
        "huge.pdf",
        "Upload refused: larger than 20 MB",
        "Excluded by the reviewer",
        "[ghost.pdf p.9]",
    ):
        assert text in html, text
    assert {r["role"] for n, r in files_by_name.items() if n.startswith("input/")} == {"input"}
    assert {r["role"] for n, r in files_by_name.items() if n.startswith("text/")} == {"internal"}
    async with pool.connection() as conn:
        totals = await (
            await conn.execute("SELECT tokens_in, tokens_out FROM runs WHERE id = %s", (run.id,))
        ).fetchone()
    assert (
        totals["tokens_in"] >= 3 * 50 + 80
    )  # the summaries' usage is accounted for, with the analysis


async def test_a_run_whose_documents_are_all_unreadable_fails_with_the_reasons(
    pool, worker, user, doc_model
):
    run = await start_with_files(
        pool,
        user,
        "document-processing",
        [("scan.pdf", PDF, image_only_pdf()), ("broken.pdf", PDF, corrupt_pdf())],
        question="Anything?",
    )
    done = await wait_status(pool, run.id, "completed", "failed", timeout=20)
    assert done["status"] == "failed"
    assert (
        "scan.pdf: No extractable text" in done["error"]["message"]
        and "broken.pdf: Corrupt" in done["error"]["message"]
    )
    assert not doc_model.requests


async def test_with_the_offline_demo_model_summaries_are_labelled_extracts(
    pool, worker, user, settings
):
    from app.core import runtime
    from app.core.llm import LLM

    llm = LLM.from_settings(settings)  # no endpoint configured: the offline demo model
    previous = runtime.install(runtime.Runtime(settings, llm))
    try:
        run = await start_with_files(
            pool,
            user,
            "document-processing",
            [("alpha.pdf", PDF, text_pdf("Alpha", pages=2))],
            question="What is it about?",
        )
        hook = await waiting_hook(pool, run.id, "review summaries", timeout=20)
        assert (
            "Offline demo model" in hook["show"]["content"]
            and "- This page discusses growth. [alpha.pdf p.1]" in hook["show"]["content"]
        )
        async with pool.connection() as conn:
            await resolve_hook(conn, hook["token"], "continue", {}, decided_by="t", owner_id=user)
        done = await wait_status(pool, run.id, "completed", "failed", timeout=30)
    finally:
        runtime.install(previous)
    assert done["status"] == "completed", done["error"]
    assert (
        "Offline demo model" in done["output"]["analysis"]
        and "[alpha.pdf p.1]" in done["output"]["analysis"]
    )


async def test_a_document_the_model_refuses_is_reported_and_the_others_go_on(
    pool, worker, user, doc_model
):
    from tests.integration.documents.conftest import doc_agents
    from tests.support.model_server import Failure

    def refuse_beta(request):
        return (
            Failure(400, "context too long")
            if "Document: beta.pdf" in request.last_user_message
            else doc_agents(request)
        )

    doc_model.handler = refuse_beta
    run = await start_with_files(
        pool,
        user,
        "document-processing",
        [("alpha.pdf", PDF, text_pdf("Alpha")), ("beta.pdf", PDF, text_pdf("Beta"))],
        question="Growth?",
    )
    hook = await waiting_hook(pool, run.id, "review summaries", timeout=20)
    assert [d["name"] for d in hook["show"]["documents"]] == ["alpha.pdf"]
    assert (
        "**beta.pdf**: The model could not summarise it: The model endpoint refused the request (400)."
        in hook["show"]["content"]
    )
