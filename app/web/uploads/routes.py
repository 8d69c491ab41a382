"""Starting the file workflows, deciding their hooks, and viewing what they made.

The chat's workflow picker links every workflow to /chat/workflows/<name>; the two that take files
answer at those same addresses here (a fixed path wins over the picker's `{name}` route), with a
multipart form: the picker needs no change and the form opens in the same panel.

    GET/POST /chat/workflows/document-processing   PDFs, a question, a model
    GET/POST /chat/workflows/data-analysis         a CSV, an optional question, a model
    POST /uploads/runs/{id}/review                 the summaries review (exclude, edit, continue)
    POST /uploads/runs/{id}/drill                  a drill-down question, or Finish
    GET  /uploads/runs/{id}/report                 the report as a page (sandboxed, no script)
    GET  /uploads/files/{id}                       a chart (SVG, shown as an image)

Every route needs a login and finds runs and files by id *and* owner: anyone else's are 404.
Request bodies are capped at the configured upload limits (BATON_DOC_*_MB, BATON_CSV_MAX_MB).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from app.core import policy
from app.core.config import Settings
from app.engine.errors import (
    AlreadyDecided,
    HookExpired,
    HookNotFound,
    InvalidAction,
    InvalidState,
)
from app.engine.hooks import hook_for_decider, refusal, resolve_hook
from app.engine.rows import Run
from app.steps.run_files import attach_uploads, store_uploads
from app.web.auth import requires_login
from app.web.htmx import is_htmx, navigate
from app.web.runs import start
from app.web.runs.access import find_chat_run
from app.web.runs.cards import load_card
from app.web.runs.forms import field_errors
from app.web.runs.in_chat import startable, started_card
from app.web.uploads import store
from app.web.uploads.files import Limits, check_csv, check_pdfs, display_name, read_capped
from app.workflows import data_analysis, documents

FORM = "partials/uploads/start_form.html"
DECISION_LIMIT = 512 * 1024
MAX_SUMMARY = documents.MAX_SUMMARY_CHARS


def _conversation(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _form_page(request: Request, context: dict, status: int = 200) -> Template:
    limits = Limits.from_settings(request.app.state.services.settings)
    context = {"limits": limits, "errors": {}, "values": {}, "refused": [], **context}
    if is_htmx(request):
        return Template(FORM, context=context, status_code=status)
    return Template(
        "pages/chat/workflows.html", context={**context, "inner": FORM}, status_code=status
    )


async def _start(
    request: Request,
    pool: AsyncConnectionPool,
    wf_name: str,
    files: list[tuple[str, str, bytes]],
    data: dict,
    conversation_id: int | None,
    values: dict,
    refused: list,
) -> Response:
    """Store the files and start the run in one transaction: a refusal leaves nothing behind."""
    wf = startable(wf_name)
    ref_key = "documents" if wf_name == documents.NAME else "file"

    def refs(ids: list[str]) -> list[dict]:
        return [
            {"artifact_id": i, "name": n, "size": len(d)}
            for i, (n, _, d) in zip(ids, files, strict=True)
        ]

    def again(errors: dict[str, str], status: int = 422) -> Template:
        return _form_page(
            request,
            {
                "wf": wf,
                "errors": errors,
                "values": values,
                "refused": refused,
                "conversation_id": conversation_id,
            },
            status=status,
        )

    def with_refs(ids: list[str]) -> dict:
        found = refs(ids)
        return {**data, ref_key: found if ref_key == "documents" else found[0]}

    try:  # the input's own checks first, before storing megabytes
        wf.input_model.model_validate(with_refs([str(uuid4()) for _ in files]))
    except ValidationError as exc:
        return again(
            field_errors(
                [
                    {"field": ".".join(str(p) for p in e["loc"]) or "input", "message": e["msg"]}
                    for e in exc.errors()
                ]
            )
        )
    try:
        async with pool.connection() as conn, conn.transaction():
            ids = await store_uploads(
                conn,
                request.user.id,
                [
                    {"name": f"input/{i + 1:02d}-{n}"[:200], "content_type": t, "data": d}
                    for i, (n, t, d) in enumerate(files)
                ],
            )
            started = await start.start_run(
                conn,
                workflow=wf.name,
                input=with_refs(ids),
                user_id=request.user.id,
                chat=start.InChat(conversation_id),
                space_id=request.user.space.id,
            )
            if isinstance(started, start.Refused):
                raise start.Refusal(started)  # the stored files go too
            await attach_uploads(conn, ids, started.run_id)
    except start.Refusal as refusal:
        if refusal.refused.reason == "no_chat":
            raise NotFoundException() from None
        # A viewer of the space: 403, shown in place for HTMX (which swaps only 2xx/422/429).
        forbidden = refusal.refused.reason == "forbidden" and not is_htmx(request)
        return again(
            refusal.refused.fields or {"form": refusal.refused.message}, 403 if forbidden else 422
        )
    if conversation_id is None or not is_htmx(request):
        return navigate(request, f"/chat/{started.conversation_id}")
    async with pool.connection() as conn:
        return started_card(await load_card(conn, started.run_id, request.user.id))


# -- start pages -------------------------------------------------------------------------------


@get(f"/chat/workflows/{documents.NAME}")
async def documents_form(
    request: Request, conversation_id: FromQuery[int | None] = None
) -> Template:
    return _form_page(
        request, {"wf": startable(documents.NAME), "conversation_id": conversation_id}
    )


@get(f"/chat/workflows/{data_analysis.NAME}")
async def data_form(request: Request, conversation_id: FromQuery[int | None] = None) -> Template:
    return _form_page(
        request, {"wf": startable(data_analysis.NAME), "conversation_id": conversation_id}
    )


def _text(form, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def start_documents(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Response:
    limits = Limits.from_settings(settings)
    form = await request.form()
    values = {k: _text(form, k) for k in ("question", "model")}
    conversation_id = _conversation(form.get("conversation_id"))
    uploads = (
        [u for u in form.getall("files") if isinstance(u, UploadFile) and u.filename]
        if "files" in form
        else []
    )
    read = [(u.filename, await read_capped(u, limits.max_file)) for u in uploads]
    accepted, refused = check_pdfs(read, limits)
    if not accepted:
        wf = startable(documents.NAME)
        errors = {
            "files": "Choose at least one PDF."
            if not read
            else "None of the files can be read: see why below."
        }
        return _form_page(
            request,
            {
                "wf": wf,
                "errors": errors,
                "values": values,
                "refused": refused,
                "conversation_id": conversation_id,
            },
            status=422,
        )
    data = {
        "question": values["question"],
        "model": values["model"],
        "rejected": [{"name": r.name, "reason": r.reason} for r in refused],
    }
    return await _start(
        request,
        pool,
        documents.NAME,
        [(a.name, "application/pdf", a.data) for a in accepted],
        data,
        conversation_id,
        values,
        refused,
    )


async def start_data(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Response:
    limits = Limits.from_settings(settings)
    form = await request.form()
    values = {k: _text(form, k) for k in ("question", "model")}
    conversation_id = _conversation(form.get("conversation_id"))
    upload = form.get("file")
    wf = startable(data_analysis.NAME)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _form_page(
            request,
            {
                "wf": wf,
                "errors": {"file": "Choose a CSV file."},
                "values": values,
                "conversation_id": conversation_id,
            },
            status=422,
        )
    name, raw = display_name(upload.filename, "data.csv"), await read_capped(upload, limits.max_csv)
    refusal = check_csv(name, raw, limits)
    if refusal:
        return _form_page(
            request,
            {
                "wf": wf,
                "errors": {"file": f"{refusal.name}: {refusal.reason}"},
                "values": values,
                "conversation_id": conversation_id,
            },
            status=422,
        )
    data = {"question": values["question"], "model": values["model"]}
    return await _start(
        request,
        pool,
        data_analysis.NAME,
        [(name, "text/csv", raw)],
        data,
        conversation_id,
        values,
        [],
    )


# -- deciding ----------------------------------------------------------------------------------


async def _waiting(
    request: Request, pool: AsyncConnectionPool, run_id: UUID, form: str
) -> tuple[Run, dict]:
    """The run (as its chat card finds it: 404 otherwise) and its waiting hook of `form`, once this
    person may decide it under the approvals page's rules (policy.Forbidden, 403, otherwise)."""
    async with pool.connection() as conn:
        run = await find_chat_run(conn, request, run_id)
        hook = await store.waiting_hook(conn, run_id, form)
        if hook is None:
            raise NotFoundException()
        found = await hook_for_decider(conn, hook["token"], request.user.id)
        refused = refusal(found, request.user.id, request.user.email) if found else "Not found."
    if refused:
        raise policy.Forbidden(refused)
    return run, hook


async def _card(conn, request: Request, run: Run) -> dict:
    return await load_card(conn, run.id, None, space_id=run.space_id, viewer_id=request.user.id)


async def _decided(
    request: Request,
    pool: AsyncConnectionPool,
    run: Run,
    hook: dict,
    action: str,
    data: dict,
) -> Response:
    notice = None
    async with pool.connection() as conn:
        try:
            await resolve_hook(
                conn,
                hook["token"],
                action,
                data,
                decided_by=request.user.email,
                user_id=request.user.id,
            )
        except (AlreadyDecided, HookExpired, InvalidState, HookNotFound, InvalidAction) as exc:
            notice = f"Nothing was changed: {exc}."
        card = await _card(conn, request, run)
    if not is_htmx(request):
        return Redirect(
            f"/chat/{card['run'].chat_id}" if card["run"].chat_id else "/approvals",
            status_code=303,
        )
    return Template("partials/runs/card.html", context={"card": card, "notice": notice})


@post("/runs/{run_id:uuid}/review", request_max_body_size=DECISION_LIMIT)
async def review(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Response:
    run, hook = await _waiting(request, pool, run_id, documents.NAME)
    async with pool.connection() as conn:
        summaries = await store.step_output(conn, run_id, "summarise documents")
    if summaries is None:
        raise NotFoundException()
    form = await request.form()
    indices = {
        s["index"]: s for s in summaries if s.get("summary")
    }  # (a refused one was never shown)
    exclude = (
        sorted(
            {
                int(v)
                for v in form.getall("exclude")
                if isinstance(v, str) and v.isdigit() and int(v) in indices
            }
        )
        if "exclude" in form
        else []
    )
    edits = {}
    for index, s in indices.items():
        text = _text(form, f"summary-{index}").replace("\r\n", "\n").strip()
        if text and text != s["summary"].strip():
            edits[str(index)] = text[:MAX_SUMMARY]
    return await _decided(
        request, pool, run, hook, "continue", {"exclude": exclude, "edits": edits}
    )


@post("/runs/{run_id:uuid}/drill", request_max_body_size=DECISION_LIMIT)
async def drill(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Response:
    run, hook = await _waiting(request, pool, run_id, data_analysis.NAME)
    form = await request.form()
    action = _text(form, "action")
    if action == "finish":
        return await _decided(request, pool, run, hook, "finish", {})
    columns = (hook.get("show") or {}).get("columns") or []
    data = data_analysis.parse_request(
        {k: _text(form, k) for k in ("question", "column", "filter")}, columns
    )
    if action != "ask" or not (data["question"] or data["column"]):
        async with pool.connection() as conn:
            card = await _card(conn, request, run)
        return Template(
            "partials/runs/card.html",
            status_code=422,
            context={"card": card, "notice": "Ask a question or pick a column (or click Finish)."},
        )
    return await _decided(request, pool, run, hook, "ask", data)


# -- viewing -----------------------------------------------------------------------------------

# A report is our HTML with sanitized model text; served as its own sandboxed document all the same.
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
}


@get("/runs/{run_id:uuid}/report")
async def report(
    request: Request, pool: NamedDependency[AsyncConnectionPool], run_id: FromPath[UUID]
) -> Response:
    async with pool.connection() as conn:
        found = await store.report_html(conn, run_id, request.user.space.id, request.user.id)
    if found is None:
        raise NotFoundException()
    return Response(
        bytes(found["data"]), media_type="text/html; charset=utf-8", headers=REPORT_HEADERS
    )


@get("/files/{artifact_id:uuid}")
async def chart(
    request: Request, pool: NamedDependency[AsyncConnectionPool], artifact_id: FromPath[UUID]
) -> Response:
    async with pool.connection() as conn:
        found = await store.space_file(conn, artifact_id, request.user.space.id, request.user.id)
    if found is None or found["content_type"] != "image/svg+xml":
        raise NotFoundException()
    return Response(
        bytes(found["data"]),
        media_type="image/svg+xml",
        headers={**REPORT_HEADERS, "Cache-Control": "private, max-age=3600"},
    )


def routers(settings: Settings) -> list[Router]:
    """The routes, with the request caps of this deployment's upload limits."""
    limits = Limits.from_settings(settings)
    starts = [
        post(
            f"/chat/workflows/{documents.NAME}",
            request_max_body_size=limits.documents_body,
            name="start-documents",
        )(start_documents),
        post(
            f"/chat/workflows/{data_analysis.NAME}",
            request_max_body_size=limits.csv_body,
            name="start-data",
        )(start_data),
    ]
    return [
        Router(
            path="/", guards=[requires_login], route_handlers=[documents_form, data_form, *starts]
        ),
        Router(
            path="/uploads", guards=[requires_login], route_handlers=[review, drill, report, chart]
        ),
    ]
