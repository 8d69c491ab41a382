"""The template builder (/templates): the list (mine, shared with me, the gallery), the editor and
its live check, saving versions and restoring old ones, test runs, running, sharing, export and
import. Another user's template is a 404 everywhere; every form carries the CSRF token.

The editor is one form (app/web/builder/doc_form.py); each keystroke (debounced) posts it to
/check, which keeps it as the draft and answers with the problems next to their fields; a button
(`op`) posts it to /edit, which applies a structural edit (app/web/builder/edits.py) or saves.
"""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import UUID

from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from psycopg_pool import AsyncConnectionPool

from app.core.policy import Action, require
from app.web.auth import requires_login
from app.web.builder import doc_form, editing, edits, formats, library, run_inputs
from app.web.htmx import is_htmx, navigate
from app.web.runs import start
from app.web.runs.cards import load_card
from app.web.runs.in_chat import started_card

EDIT_BODY_LIMIT = 1024 * 1024  # a 200-block document as a form, with room to spare
IMPORT_LIMIT = 256 * 1024
TABS = ("mine", "shared", "gallery")
FLOW_PATH = re.compile(
    r"^blocks(\.\d{1,3}\.(blocks|then|else)){0,6}$"
)  # a list of blocks in the document


# -- the list ----------------------------------------------------------------------------------


@get("/")
async def list_page(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    tab: FromQuery[str] = "mine",
    q: FromQuery[str] = "",
    category: FromQuery[str] = "",
) -> Template:
    tab = tab if tab in TABS else "mine"
    q, category = q.strip()[:200], category.strip()[:60]
    async with pool.connection() as conn:
        templates = await library.listing(
            conn, request.user, tab, q=q or None, category=category or None
        )
        categories = await library.categories(conn, request.user, tab)
    return Template(
        "pages/builder/list.html",
        context={
            "templates": templates,
            "tab": tab,
            "q": q,
            "category": category,
            "categories": categories,
        },
    )


# -- the editor --------------------------------------------------------------------------------


async def _editor_context(
    conn,
    user_id: int,
    t: dict,
    doc: dict,
    *,
    problems=None,
    focus=None,
    notice=None,
    refused=False,
    card=None,
    test_errors=None,
    test_values=None,
) -> dict:
    problems = formats.validate(doc) if problems is None else problems
    view = editing.editor_view(doc, problems, focus=focus, key=t["key"])
    return {
        **view,
        "t": t,
        "notice": notice,
        "refused": refused,
        "unsaved": bool(t.get("draft_differs")),
        "versions": await library.versions(conn, t, user_id),
        "share_url": library.share_url(t),
        "test_fields": run_inputs.input_fields(doc, test_values or {}),
        "test_errors": test_errors or {},
        "card": card,
    }


async def _form_items(request: Request) -> list[tuple[str, str]]:
    form = await request.form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


def _shown(t: dict) -> dict:
    """What the editor shows: the kept draft, else the saved document."""
    return t["draft"] if t.get("draft") is not None else t["doc"]


@get("/{key:str}")
async def editor(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    key: FromPath[str],
    test_run: FromQuery[UUID | None] = None,
    copy: FromQuery[bool] = False,
) -> Template:
    """The editor; `test_run` shows that run's live card beside it (a test run of a new template);
    `copy`: a "Use" whose copy needs the user's own values first (it is this new template's draft).
    A viewer of the template's team reads it instead (its inputs and blocks, read-only)."""
    async with pool.connection() as conn:
        t = await library.editable(conn, key, request.user, write=False)
        if not request.user.space.allows(Action.EDIT):
            if t["version"] is None:  # a new template: nothing to read
                require(request.user.space, Action.EDIT)
            return Template(
                "pages/builder/shared.html",
                context={
                    "t": t,
                    "token": None,
                    "read_only_in": request.user.space.name,
                    "inputs": t["doc"].get("inputs") or [],
                    "outline": library.outline(t["doc"]),
                },
            )
        notice = (
            "Your copy is not saved yet: fill in what it left out (a webhook's address, say), then save."
            if copy and t["draft_differs"]
            else "Your unsaved changes were kept."
            if t["draft_differs"]
            else None
        )
        card = (  # a test run of the request's space, whichever member started it
            await load_card(
                conn, test_run, None, space_id=request.user.space.id, viewer_id=request.user.id
            )
            if test_run
            else None
        )
        doc = _shown(t)
        # A new template opens clean: what it still lacks (a title, a block) is said once the
        # person edits it or tries to save or run it, not before they did anything.
        context = await _editor_context(
            conn,
            request.user.id,
            t,
            doc,
            notice=notice,
            card=card,
            problems=[] if doc == library.BLANK else None,
        )
    return Template("pages/builder/editor.html", context=context)


@post("/{key:str}/check", request_max_body_size=EDIT_BODY_LIMIT)
async def check(
    request: Request, pool: NamedDependency[AsyncConnectionPool], key: FromPath[str]
) -> Template:
    """The live check while typing: keeps the draft, answers with the problems beside their fields
    (out of band; the slots without a problem are emptied by static/js/builder.js)."""
    items = await _form_items(request)
    with editing.gc_paused():
        doc = doc_form.parse_form(items, formats.schema())
    async with pool.connection() as conn:
        t = await library.keep_draft(conn, key, request.user, doc)
    with editing.gc_paused():
        view = editing.check_view(
            {name for name, _ in items if not name.startswith("_")}, formats.validate(doc)
        )
    return Template(
        "partials/builder/check.html",
        context={
            **view,
            "t": t,
            "unsaved": bool(t["draft_differs"]),
            "notice": None,
            "refused": False,
        },
    )


@post("/{key:str}/variables", request_max_body_size=EDIT_BODY_LIMIT)
async def variables(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    key: FromPath[str],
    at: FromQuery[str] = "",
) -> Template:
    """The variables a block may use (its picker, opened), from the editor's form as it is now."""
    async with pool.connection() as conn:
        await library.editable(conn, key, request.user)  # a 404 for anyone else's
    doc = doc_form.parse_form(await _form_items(request), formats.schema())
    return Template(
        "partials/builder/variables.html", context={"names": formats.scope_at(doc, at[:300])}
    )


@get("/{key:str}/add-menu")
async def add_menu(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    key: FromPath[str],
    at: FromQuery[str] = "blocks",
    index: FromQuery[int] = 0,
) -> Template:
    """The kinds of block that can be added at a place of the flow (the menu, opened)."""
    if not FLOW_PATH.match(at) or not 0 <= index <= 1000:
        raise NotFoundException()
    async with pool.connection() as conn:
        await library.editable(conn, key, request.user)  # a 404 for anyone else's
    return Template(
        "partials/builder/add_menu.html",
        context={
            "at": at,
            "index": index,
            "kinds": list(formats.KIND_TITLES),
            "titles": formats.KIND_TITLES,
        },
    )


@post("/{key:str}/edit", request_max_body_size=EDIT_BODY_LIMIT)
async def edit(
    request: Request, pool: NamedDependency[AsyncConnectionPool], key: FromPath[str]
) -> Response:
    items = await _form_items(request)
    op = next((v for k, v in items if k == "op"), "")
    doc = doc_form.parse_form(items, formats.schema())
    user_id = request.user.id
    async with pool.connection() as conn:
        if op == "save":
            saved = await library.save(conn, key, request.user, doc)
            if isinstance(saved, list):
                t = await library.keep_draft(conn, key, request.user, doc)
                context = await _editor_context(conn, user_id, t, doc, problems=saved, refused=True)
                return _editor_answer(request, context, status=422)
            if key == library.NEW:
                return navigate(request, f"/templates/{saved['id']}")
            context = await _editor_context(
                conn,
                user_id,
                saved,
                saved["doc"],
                problems=[],
                notice=f"Saved as version {saved['version']}",
            )
            return _editor_answer(request, context, versions=True)
        if op == "discard":
            t = await library.discard_draft(conn, key, request.user)
            context = await _editor_context(conn, user_id, t, t["doc"], notice="Changes discarded.")
            return _editor_answer(request, context)
        doc, focus = edits.apply(doc, op, formats.new_block)
        t = await library.keep_draft(conn, key, request.user, doc)
        context = await _editor_context(conn, user_id, t, doc, focus=focus)
    return _editor_answer(request, context)


def _editor_answer(
    request: Request, context: dict, *, status: int = 200, versions: bool = False
) -> Template:
    if is_htmx(request):
        return Template(
            "partials/builder/editor_swap.html",
            context={**context, "with_versions": versions},
            status_code=status,
        )
    return Template("pages/builder/editor.html", context=context, status_code=status)


# -- versions ----------------------------------------------------------------------------------


@post("/{template_id:int}/versions/{version:int}/restore")
async def restore(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    template_id: FromPath[int],
    version: FromPath[int],
) -> Response:
    async with pool.connection() as conn:
        await library.restore(conn, template_id, version, request.user)
    return navigate(request, f"/templates/{template_id}")


# -- test runs and runs ------------------------------------------------------------------------


@post("/{key:str}/test", request_max_body_size=EDIT_BODY_LIMIT)
async def test_run(
    request: Request, pool: NamedDependency[AsyncConnectionPool], key: FromPath[str]
) -> Response:
    """Runs what is in the editor now (the kept draft, else the saved version) with sample inputs,
    without saving a version; the run's card shows beside the editor."""
    form = {k: v for k, v in await _form_items(request)}
    user_id = request.user.id
    async with pool.connection() as conn:
        t = await library.editable(conn, key, request.user)
        doc = _shown(t)
        problems = formats.validate(doc)
        if problems:
            errors = {
                "form": "Fix the template's problems first: "
                + "; ".join(m for _, m in problems[:3])
            }
            return await _test_answer(request, conn, t, doc, errors, form)
        outcome, t = await library.start_test(
            conn, t, doc, run_inputs.form_input(doc, form), request.user
        )
        if isinstance(outcome, start.Refused):
            return await _test_answer(
                request, conn, t, doc, outcome.fields or {"form": outcome.message}, form
            )
        card = await load_card(
            conn, outcome.run_id, None, space_id=request.user.space.id, viewer_id=request.user.id
        )
        context = await _editor_context(conn, user_id, t, doc, card=card)
    if not is_htmx(request):
        return Template("pages/builder/editor.html", context=context)
    return Template(
        "partials/builder/test_swap.html", context={**context, "oob": True, "with_versions": False}
    )


async def _test_answer(request, conn, t, doc, errors, form) -> Template:
    context = await _editor_context(
        conn, request.user.id, t, doc, test_errors=errors, test_values=form
    )
    template = (
        "partials/builder/test_form.html" if is_htmx(request) else "pages/builder/editor.html"
    )
    return Template(template, context=context, status_code=422)


def _run_panel(request: Request, context: dict, status: int = 200) -> Template:
    template = "partials/builder/run_form.html" if is_htmx(request) else "pages/builder/run.html"
    return Template(template, context=context, status_code=status)


@get("/{template_id:int}/run")
async def run_form(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    template_id: FromPath[int],
    conversation_id: FromQuery[int | None] = None,
) -> Template:
    async with pool.connection() as conn:
        t = await library.visible(conn, template_id, request.user)
    return _run_panel(
        request,
        {
            "t": t,
            "fields": run_inputs.input_fields(t["doc"], {}),
            "errors": {},
            "conversation_id": conversation_id,
        },
    )


@post("/{template_id:int}/run", request_max_body_size=EDIT_BODY_LIMIT)
async def run(
    request: Request, pool: NamedDependency[AsyncConnectionPool], template_id: FromPath[int]
) -> Response:
    form = {k: v for k, v in await _form_items(request)}
    conversation_id = (
        int(form["conversation_id"]) if form.get("conversation_id", "").isdigit() else None
    )
    async with pool.connection() as conn:
        t = await library.visible(conn, template_id, request.user)
        outcome = await library.start(
            conn,
            t,
            run_inputs.form_input(t["doc"], form),
            request.user,
            chat=start.InChat(conversation_id),
        )
        if isinstance(outcome, start.Refused):
            if outcome.reason == "no_chat":
                raise NotFoundException()
            return _run_panel(
                request,
                {
                    "t": t,
                    "fields": run_inputs.input_fields(t["doc"], form),
                    "errors": outcome.fields or {"form": outcome.message},
                    "conversation_id": conversation_id,
                },
                status=422,
            )
        if conversation_id is None or not is_htmx(request):
            return navigate(request, f"/chat/{outcome.conversation_id}")
        return started_card(
            await load_card(
                conn,
                outcome.run_id,
                None,
                space_id=request.user.space.id,
                viewer_id=request.user.id,
            )
        )


# -- sharing, copies, export and import --------------------------------------------------------


@post("/{template_id:int}/sharing")
async def sharing(
    request: Request, pool: NamedDependency[AsyncConnectionPool], template_id: FromPath[int]
) -> Response:
    form = await request.form()
    visibility = form.get("visibility")
    if visibility not in ("private", "link", "gallery"):
        raise NotFoundException()
    async with pool.connection() as conn:
        await library.set_visibility(conn, template_id, request.user, visibility)
    return navigate(request, f"/templates/{template_id}")


@post("/{template_id:int}/unpublish")
async def unpublish(
    request: Request, pool: NamedDependency[AsyncConnectionPool], template_id: FromPath[int]
) -> Response:
    if not request.user.is_admin:
        raise NotFoundException()
    async with pool.connection() as conn:
        await library.unpublish(conn, template_id)
    return navigate(request, "/templates?tab=gallery")


@post("/{template_id:int}/use")
async def use(
    request: Request, pool: NamedDependency[AsyncConnectionPool], template_id: FromPath[int]
) -> Response:
    form = await request.form()
    token = form.get("token") if isinstance(form.get("token"), str) else None
    async with pool.connection() as conn:
        new_id = await library.use(conn, template_id, request.user, token=token)
    return navigate(request, f"/templates/{new_id}" + ("?copy=1" if new_id == "new" else ""))


@get("/shared/{token:str}")
async def shared(
    request: Request, pool: NamedDependency[AsyncConnectionPool], token: FromPath[str]
) -> Template:
    async with pool.connection() as conn:
        t = await library.by_share_token(conn, token[:100], request.user)
    return Template(
        "pages/builder/shared.html",
        context={
            "t": t,
            "token": token,
            "inputs": t["doc"].get("inputs") or [],
            "outline": library.outline(t["doc"]),
        },
    )


@get("/{template_id:int}/export")
async def export(
    request: Request, pool: NamedDependency[AsyncConnectionPool], template_id: FromPath[int]
) -> Response:
    async with pool.connection() as conn:
        t, document = await library.export(conn, template_id, request.user)
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{t["slug"]}.json"'},
    )


@get("/import")
async def import_page() -> Template:
    return Template(
        "pages/builder/import.html",
        context={"errors": {}, "problems": [], "limit_kb": IMPORT_LIMIT // 1024},
    )


@post("/import", request_max_body_size=IMPORT_LIMIT + 16 * 1024)
async def import_file(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Response:
    form = await request.form()
    upload = form.get("file")
    errors: dict[str, str] = {}
    problems: list[Any] = []
    document = None
    if not isinstance(upload, UploadFile):
        errors["file"] = "Choose a JSON file."
    else:
        data = await upload.read(IMPORT_LIMIT + 1)
        if len(data) > IMPORT_LIMIT:
            errors["file"] = f"The file is larger than {IMPORT_LIMIT // 1024} KB."
        else:
            try:
                document = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                errors["file"] = "This is not a JSON file."
    if document is not None:
        async with pool.connection() as conn:
            outcome = await library.import_document(conn, request.user, document)
        if isinstance(outcome, int):
            return navigate(request, f"/templates/{outcome}")
        problems = [
            editing.Shown(editing.norm_path(p), editing.norm_path(p) or "document", m, "")
            for p, m in outcome
        ]
    return Template(
        "pages/builder/import.html",
        status_code=422,
        context={"errors": errors, "problems": problems, "limit_kb": IMPORT_LIMIT // 1024},
    )


router = Router(
    path="/templates",
    guards=[requires_login],
    route_handlers=[
        list_page,
        import_page,
        import_file,
        shared,
        editor,
        check,
        variables,
        add_menu,
        edit,
        restore,
        test_run,
        run_form,
        run,
        sharing,
        unpublish,
        use,
        export,
    ],
)
