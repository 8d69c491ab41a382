"""`document-processing` (Document analysis): up to 50 uploaded PDFs → text of each, extracted in
parallel (`run.map` children on any worker) → a summary of each that cites its pages, under a model
rate limit shared by every worker → your review (exclude documents, edit summaries) → a
comparative analysis with citations like [report.pdf p.3] → the report as an HTML page and a PDF.

A PDF that cannot be read (image-only, encrypted, corrupt) is reported with its reason and the run
goes on with the others. The uploads and their extracted text are artifacts (role input/internal);
the journal holds their ids and the summaries. Progress shows live: "23/50 extracted",
"12/50 summarised" (each finished child updates the run's progress).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core import runtime
from app.core.markdown import render_markdown
from app.core.pdf import render_html, render_pdf
from app.engine.errors import FatalError
from app.engine.progress import Phases
from app.engine.registry import workflow
from app.engine.run import Run
from app.engine.values import RateLimit, RetryPolicy, StepOutput
from app.steps import chosen_model
from app.steps.chosen_model import ModelName
from app.steps.pdf_text import (
    check_citations,
    cited_text,
    clean_page,
    extract_pdf_text,
    find_citations,
    with_source,
)
from app.steps.run_files import read_bytes, write_bytes

NAME = "document-processing"
WORKFLOW_TITLE = "Document analysis"
MAX_DOCUMENTS = 50
RATE_LIMIT = "model:document-summaries"  # one window for every run and worker
EXTRACT_CONCURRENCY = (
    16  # children in flight across all workers (each worker runs at most its own concurrency)
)
SUMMARY_CONCURRENCY = 8
REVIEW_TIMEOUT_S = 30 * 86400
MAX_SUMMARY_CHARS = 12_000
# Step names the run card's panel reads (app/web/uploads/panels.py): rename them here, not there.
EXTRACT_STEP = "extract text"
SUMMARISE_STEP = "summarise documents"
PROGRESS_WORDS = {EXTRACT_STEP: "extracted", SUMMARISE_STEP: "summarised"}
# The run's phases and their shares of the overall progress (app/engine/progress.py): the summaries
# (model calls, possibly rate-limited) take most of the time.
PHASES = Phases(
    (EXTRACT_STEP, 2), (SUMMARISE_STEP, 10), ("review", 1), ("compare", 4), ("report", 1)
)
CHILD_RETRY = RetryPolicy(max_attempts=4, initial_s=2.0, factor=3.0)
log = logging.getLogger("baton.documents")

SUMMARISER = (
    "You are a careful document analyst. Summarise the document below for the reader's question, in "
    "Markdown, in at most 250 words, with no preamble. The text is given page by page, each page headed by "
    "its citation. Cite every statement with the page it comes from, written exactly like its heading, "
    "e.g. [{name} p.3]. Never cite a page you were not shown."
)
ANALYST = (
    "You are a research analyst comparing several documents. From the summaries below, answer the reader's "
    "question with a comparative analysis in Markdown: where the documents agree, where they differ, and "
    "what is missing. Keep every citation in the form [document name p.N], copied from the summaries; cite "
    "each claim. No preamble."
)


class DocumentRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    artifact_id: UUID
    name: str = Field(min_length=1, max_length=120)
    size: int = Field(ge=0)


class RejectedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    reason: str = Field(max_length=300)


class DocumentsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentRef] = Field(
        min_length=1,
        max_length=MAX_DOCUMENTS,
        title="PDF documents",
        description=f"Up to {MAX_DOCUMENTS} PDF files.",
    )
    question: str = Field(
        min_length=3,
        max_length=2000,
        title="Question or focus",
        description="What the summaries and the comparison should answer.",
        json_schema_extra={"widget": "textarea"},
    )
    model: ModelName = Field(None, title="Model", description="Leave empty for the default model.")
    rejected: list[RejectedFile] = Field(default_factory=list, max_length=500)

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 3:
            raise ValueError("Say what the documents should be read for.")
        return value

    @field_validator("documents")
    @classmethod
    def _unique(cls, docs: list[DocumentRef]) -> list[DocumentRef]:
        if len({d.name for d in docs}) != len(docs):
            raise ValueError("Two documents have the same name.")
        return docs


# -- map children: run as their own jobs, on any worker ---------------------------------------


async def extract_document(item: dict) -> dict:
    """Read one uploaded PDF, store its text (one string per page) as an internal artifact."""
    data = await read_bytes(item["artifact_id"], owner_id=item["owner_id"], run_id=item["run_id"])
    result = await asyncio.to_thread(extract_pdf_text, data)
    out = {
        "index": item["index"],
        "name": item["name"],
        "status": result.status,
        "message": result.message,
        "pages": result.page_count,
        "chars": result.chars,
        "text_id": None,
    }
    if result.status == "ok":
        blob = json.dumps(
            {"name": item["name"], "pages": result.pages}, ensure_ascii=False
        ).encode()
        out["text_id"] = await write_bytes(
            owner_id=item["owner_id"],
            run_id=item["run_id"],
            name=f"text/{item['index'] + 1:02d}.json",
            content_type="application/json",
            data=blob,
        )
    return out


async def summarise_document(item: dict) -> dict:
    """Summarise one document's text with page citations (one model call, under the rate limit)."""
    blob = await read_bytes(item["text_id"], owner_id=item["owner_id"], run_id=item["run_id"])
    pages = json.loads(blob)["pages"]
    name = item["name"]
    prompt = (
        f"Document: {name} ({len(pages)} pages)\nThe reader's question: {item['question']}\n\n"
        f"{cited_text(name, pages)}"
    )
    try:
        reply = await chosen_model.ask(
            SUMMARISER.format(name=name), prompt, model=item.get("model"), max_tokens=900
        )
    except (
        FatalError
    ) as exc:  # the endpoint refused this request (retrying cannot help): report it, go on
        return {
            "index": item["index"],
            "name": name,
            "pages": len(pages),
            "summary": None,
            "error": str(exc),
            "usage": None,
        }
    if reply is None:
        summary = f"{chosen_model.OFFLINE_NOTE}\n\n{extract_summary(name, pages)}"
        usage = None
    else:
        summary, usage = reply.text[:MAX_SUMMARY_CHARS], reply.usage
    log.info("documents.summarised", extra={"run_id": item["run_id"], "document": item["index"]})
    return {
        "index": item["index"],
        "name": name,
        "pages": len(pages),
        "summary": with_source(summary, name, pages),
        "usage": chosen_model.usage_json(usage),
    }


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def extract_summary(name: str, pages: list[str], sentences: int = 4) -> str:
    """The offline stand-in: the first sentences of the first pages with text, each cited."""
    lines = []
    for number, text in enumerate(pages, start=1):
        for sentence in _SENTENCE.split(" ".join(text.split())):
            if len(sentence) > 20:
                lines.append(f"- {sentence[:300]} [{name} p.{number}]")
                break
        if len(lines) >= sentences:
            break
    return "\n".join(lines)


# -- steps ------------------------------------------------------------------------------------


def record_usage(summaries: list[dict], default_model: str) -> StepOutput:
    usage = chosen_model.total_usage([s.get("usage") for s in summaries], default_model)
    return StepOutput({"calls": sum(1 for s in summaries if s.get("usage"))}, usage=usage)


async def compare_documents(question: str, kept: list[dict], model: str | None) -> StepOutput | str:
    blocks = "\n\n".join(f"## {d['name']} ({d['pages']} pages)\n{d['summary']}" for d in kept)
    prompt = f"The reader's question: {question}\n\nThe document summaries:\n\n{blocks}"
    reply = await chosen_model.ask(ANALYST, prompt, model=model, max_tokens=2000)
    if reply is None:
        lines = [chosen_model.OFFLINE_NOTE.replace("a summary", "an analysis"), ""]
        for d in kept:
            first = next(
                (c for c in find_citations(d["summary"]) if c[0] == d["name"]), (d["name"], 1)
            )
            lines.append(
                f"- **{d['name']}** covers {d['pages']} page{'s' if d['pages'] != 1 else ''} "
                f"[{first[0]} p.{first[1]}]."
            )
        return "\n".join(lines)
    return StepOutput(reply.text, usage=reply.usage)


def apply_review(summaries: list[dict], data: dict) -> list[dict]:
    """The summaries the reviewer kept, with their edits (validated again: the data came from a form)."""
    exclude = {int(i) for i in data.get("exclude") or [] if str(i).isdigit()}
    edits = data.get("edits") if isinstance(data.get("edits"), dict) else {}
    kept = []
    for s in summaries:
        if s["index"] in exclude:
            continue
        edited = edits.get(str(s["index"]))
        if isinstance(edited, str) and edited.strip():
            text = clean_page(edited)[:MAX_SUMMARY_CHARS]
            s = {**s, "summary": text, "edited": text != s["summary"]}
        kept.append(s)
    return kept


def review_markdown(summaries: list[dict], problems: list[dict]) -> str:
    parts = [f"### {s['name']}\n\n{s['summary']}" for s in summaries]
    if problems:
        parts.append(
            "### Not included\n\n"
            + "\n".join(f"- **{p['name']}**: {p['message']}" for p in problems)
        )
    return "\n\n".join(parts)


async def write_report(ctx: dict) -> dict:
    """Render the report (HTML page and PDF) and store both as the run's outputs."""
    html, pdf = await asyncio.to_thread(render_report, ctx)
    ids = {}
    for name, kind, data in (
        ("report.html", "text/html; charset=utf-8", html.encode()),
        ("report.pdf", "application/pdf", pdf),
    ):
        ids["html" if name.endswith("html") else "pdf"] = await write_bytes(
            owner_id=ctx["owner_id"],
            run_id=ctx["run_id"],
            name=f"document-analysis-{name}",
            content_type=kind,
            data=data,
            role="output",
        )
    return ids


def render_report(ctx: dict) -> tuple[str, bytes]:
    pages = {d["name"]: d["pages"] for d in ctx["kept"]}
    valid, unknown = check_citations(ctx["analysis"], pages)
    for d in ctx["kept"]:
        v, u = check_citations(d["summary"], pages)
        valid += v
        unknown += u
    context = dict(
        title=ctx["title"],
        date=ctx["date"],
        question=ctx["question"],
        workflow_title=WORKFLOW_TITLE,
        analysis_html=render_markdown(ctx["analysis"], top=3),
        documents=[{**d, "html": render_markdown(d["summary"], top=4)} for d in ctx["kept"]],
        excluded=ctx["excluded"],
        problems=ctx["problems"],
        rejected=ctx["rejected"],
        citations=sorted(set(valid)),
        unknown=sorted(set(unknown)),
        model=ctx["model"],
    )
    return render_html("documents_report.html", **context), render_pdf(
        "documents_report.html", **context
    )


# -- the workflow -----------------------------------------------------------------------------


def titled(inp: DocumentsInput) -> str:
    """ "a.pdf and 4 more: what changed?" (the files, then the question)."""
    names = [d.name for d in inp.documents]
    files = (
        names[0]
        if len(names) == 1
        else (
            f"{names[0]} and {names[1]}"
            if len(names) == 2
            else f"{names[0]} and {len(names) - 1} more"
        )
    )
    return f"{files}: {' '.join(inp.question.split())}"


@workflow(
    name=NAME,
    title=WORKFLOW_TITLE,
    input=DocumentsInput,
    titled=titled,
    description="Reads up to 50 PDFs, summarises each with page citations, lets you review the "
    "summaries, then compares them in a cited report (HTML and PDF).",
)
async def document_processing(run: Run, inp: DocumentsInput) -> dict:
    settings = runtime.current().settings
    total = len(inp.documents)
    base = {"run_id": str(run.id), "owner_id": run.owner_id}
    await run.progress(0, total, EXTRACT_STEP, phase=PHASES.span(EXTRACT_STEP))
    extracted = await run.map(
        EXTRACT_STEP,
        extract_document,
        [
            {**base, "index": i, "artifact_id": str(d.artifact_id), "name": d.name}
            for i, d in enumerate(inp.documents)
        ],
        concurrency=EXTRACT_CONCURRENCY,
        retry=CHILD_RETRY,
    )
    readable = [e for e in extracted if e["status"] == "ok"]
    problems = [e for e in extracted if e["status"] != "ok"]
    if not readable:
        raise FatalError(
            "None of the documents has readable text: "
            + "; ".join(f"{p['name']}: {p['message']}" for p in problems)
        )
    await run.progress(0, len(readable), SUMMARISE_STEP, phase=PHASES.span(SUMMARISE_STEP))
    summaries = await run.map(
        SUMMARISE_STEP,
        summarise_document,
        [
            {
                **base,
                "index": e["index"],
                "name": e["name"],
                "text_id": e["text_id"],
                "question": inp.question,
                "model": inp.model,
            }
            for e in readable
        ],
        concurrency=SUMMARY_CONCURRENCY,
        retry=CHILD_RETRY,
        # The offline demo model calls no endpoint: nothing to limit.
        limit=None if chosen_model.offline() else RateLimit(RATE_LIMIT, *settings.doc_summary_rate),
    )
    model_name = inp.model or runtime.current().llm.model
    await run.step("record model usage", record_usage, summaries, model_name)
    problems += [
        {
            "index": s["index"],
            "name": s["name"],
            "status": "unsummarised",
            "pages": s["pages"],
            "message": f"The model could not summarise it: {s['error']}",
        }
        for s in summaries
        if not s.get("summary")
    ]
    summaries = [s for s in summaries if s.get("summary")]
    if not summaries:
        raise FatalError(
            "No document could be summarised: " + "; ".join(p["message"] for p in problems[-3:])
        )

    await run.progress(0, 1, "waiting for your review", phase=PHASES.span("review"))
    decision = await run.hook(
        "review summaries",
        "input",
        actions=["continue"],
        timeout=REVIEW_TIMEOUT_S,
        show={
            "form": NAME,
            "heading": "Review the summaries",
            "note": "Exclude documents or edit their summaries, then continue to the comparison.",
            "content": review_markdown(summaries, problems),
            "label": "Summaries",
            "labels": {"continue": "Continue"},
            "documents": [
                {"index": s["index"], "name": s["name"], "pages": s["pages"]} for s in summaries
            ],
        },
    )
    kept = summaries if decision.timed_out else apply_review(summaries, decision.data)
    excluded = [s["name"] for s in summaries if s["index"] not in {k["index"] for k in kept}]
    if not kept:
        return {
            "title": run_title(inp),
            "documents": extracted,
            "excluded": excluded,
            "message": "Every document was excluded: no analysis was written.",
        }
    await run.progress(0, 1, "comparing the documents", phase=PHASES.span("compare"))
    analysis = await run.step(
        "compare documents",
        compare_documents,
        inp.question,
        kept,
        inp.model,
        retry=chosen_model.MODEL_RETRY,
        timeout=chosen_model.MODEL_TIMEOUT_S,
    )
    await run.progress(0, 1, "writing the report", phase=PHASES.span("report"))
    when = run.now()
    report = await run.step(
        "write report",
        write_report,
        {
            **base,
            "title": run_title(inp),
            "date": when.strftime("%-d %B %Y"),
            "question": inp.question,
            "analysis": analysis,
            "kept": kept,
            "excluded": excluded,
            "problems": problems,
            "rejected": [r.model_dump() for r in inp.rejected],
            "model": model_name,
        },
        timeout=300,
    )
    return {
        "title": run_title(inp),
        "documents": extracted,
        "kept": [k["name"] for k in kept],
        "excluded": excluded,
        "analysis": analysis,
        "report": report,
        "review_timed_out": decision.timed_out,
    }


def run_title(inp: DocumentsInput) -> str:
    q = " ".join(inp.question.split())
    return f"Documents: {q[:70]}{'…' if len(q) > 70 else ''}"


def summary_items(output: Any) -> list[dict]:
    """For the run card: the per-document rows of a finished run's output."""
    return output.get("documents", []) if isinstance(output, dict) else []
