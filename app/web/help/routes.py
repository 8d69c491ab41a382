"""GET /help (the guide's contents, search, slash commands, workflow catalog) and /help/<page>.
Open to everyone: someone who cannot sign in needs the troubleshooting page most."""

from __future__ import annotations

from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from app.engine.registry import catalog
from app.web.auth import requires_admin
from app.web.help import pages
from app.workflows.catalog import SLASH_COMMANDS


def commands() -> list[dict]:
    """The chat's slash commands, from the table the chat itself dispatches on (app/workflows/catalog.py)."""
    titles = {wf.name: wf for wf in catalog(include_hidden=True)}
    listed = [
        {"usage": f"{command} <{field}>", "workflow": titles[name]}
        for command, (name, field) in SLASH_COMMANDS.items()
    ]
    return [*listed, {"usage": "/help", "workflow": None}]


def _is_admin(request: Request) -> bool:
    user = request.scope.get("user")
    return bool(user and user.is_admin)


@get("/")
async def help_index(request: Request, q: FromQuery[str] = "") -> Template:
    """Without `q`: the contents; with it, the sections that mention it (the admin guide too, for admins)."""
    q = " ".join(q.split())[:200]
    books = ("user", "admin") if _is_admin(request) else ("user",)
    return Template(
        "pages/help/index.html",
        context={
            "pages": pages.pages("user"),
            "admin_pages": pages.pages("admin") if _is_admin(request) else (),
            "q": q,
            "hits": pages.search(q, books) if q else None,
            "commands": commands(),
            "workflows": catalog(),
        },
    )


def _page(request: Request, book: str, slug: str) -> Template:
    page = pages.page(book, slug)
    if page is None:
        raise NotFoundException()
    return Template(
        "pages/help/page.html",
        context={
            "page": page,
            "pages": pages.pages("user"),
            "admin_pages": pages.pages("admin") if _is_admin(request) else (),
        },
    )


@get("/{slug:str}")
async def help_page(request: Request, slug: FromPath[str]) -> Template:
    return _page(request, "user", slug)


@get("/admin/{slug:str}", guards=[requires_admin])
async def admin_help_page(request: Request, slug: FromPath[str]) -> Template:
    """The admin guide: only for admins (everyone else gets the 404 any admin page gives them)."""
    return _page(request, "admin", slug)


router = Router(path="/help", route_handlers=[help_index, help_page, admin_help_page])
