"""The template store (app/templates/store.py) as the builder's pages need it: a template as the
pages show it (`view`), the editor's document (the draft if one is kept), the list with search and
categories, and the store's "not found" as the web's 404.

A template that is not saved yet is `key` "new": its draft is the user's draft with no template.

Every function takes the request's user (`user.id`, `user.space`): templates are those of the current
space (a team's are shared by its members), changes need the role's EDIT (a viewer: 403), runs start
in the current space.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from app.core.policy import Action, require
from app.templates import store
from app.templates.format import parse
from app.templates.start import TemplateChoice, choose
from app.templates.store import TemplateInvalid, TemplateNotFound
from app.web.errors import NotFound
from app.web.runs.start import InChat, Refused, start_run

NEW = "new"
BLANK = {"title": "", "description": "", "inputs": [], "blocks": []}
LIST_LIMIT = 200
DISCARD_DRAFT = store.DELETE_DRAFT


class NoSuchTemplate(NotFound):
    pass


def template_id_of(key: str) -> int | None:
    """None for a new template; the id otherwise; a 404 for anything else."""
    if key == NEW:
        return None
    if key.isdigit() and len(key) < 19:
        return int(key)
    raise NoSuchTemplate(key)


def view(row: dict | None, doc: dict, *, draft: dict | None = None) -> dict:
    """A template as the pages show it (row None: not saved yet)."""
    row = row or {}
    return {
        "id": row.get("id", NEW),
        "key": str(row.get("id", NEW)),
        "slug": row.get("slug", ""),
        "title": row.get("title") or doc.get("title") or "",
        "description": doc.get("description", ""),
        "category": row.get("category") or doc.get("category", ""),
        "icon": doc.get("icon", ""),
        "version": row.get("current_version"),
        "visibility": row.get("visibility", "private"),
        "share_token": row.get("share_token"),
        "owner_id": row.get("owner_id"),
        "owner_email": row.get("owner_email"),
        "doc": doc,
        "draft": draft,
        "draft_differs": draft is not None and draft != doc,
    }


def space_id(user: Any) -> int | None:
    return user.space.id if user.space is not None else None


async def _own(conn: AsyncConnection, template_id: int, user: Any, *, write: bool = True) -> dict:
    """A template of the current space (another space's: 404); `write`: the role may EDIT (403)."""
    try:
        row = await store.get_template(
            conn, user_id=user.id, template_id=template_id, space_id=space_id(user)
        )
    except TemplateNotFound:
        raise NoSuchTemplate(template_id) from None
    if row["space_id"] != space_id(user):
        raise NoSuchTemplate(template_id)
    if write and user.space is not None:
        require(user.space, Action.EDIT)
    return row


async def editable(conn: AsyncConnection, key: str, user: Any, *, write: bool = True) -> dict:
    """A template of the current space (or the new one) with its saved document and the user's
    draft; `write` (all but the editor's page): the role must be allowed to EDIT (else 403)."""
    user_id = user.id
    template_id = template_id_of(key)
    if template_id is None and write and user.space is not None:
        require(user.space, Action.EDIT)
    row = await _own(conn, template_id, user, write=write) if template_id is not None else None
    doc = await store.get_document(conn, row) if row else BLANK
    # Ownership is checked above: the draft's own query, without the store's second look-up.
    draft = await (
        await conn.execute(store.GET_DRAFT, {"user_id": user_id, "template_id": template_id})
    ).fetchone()
    return view(row, doc, draft=draft["document"] if draft else None)


async def keep_draft(conn: AsyncConnection, key: str, user: Any, doc: dict) -> dict:
    template_id = template_id_of(key)
    t = await editable(conn, key, user)
    try:
        await store.put_draft(
            conn, user_id=user.id, template_id=template_id, document=doc, space_id=space_id(user)
        )
    except TemplateNotFound:
        raise NoSuchTemplate(key) from None
    except TemplateInvalid:
        return t  # too large to keep: the check says why
    return {**t, "draft": doc, "draft_differs": doc != t["doc"]}


async def discard_draft(conn: AsyncConnection, key: str, user: Any) -> dict:
    t = await editable(conn, key, user)
    await conn.execute(DISCARD_DRAFT, {"user_id": user.id, "template_id": template_id_of(key)})
    return {**t, "draft": None, "draft_differs": False}


async def save(
    conn: AsyncConnection, key: str, user: Any, doc: dict
) -> dict | list[tuple[str, str]]:
    """The template after saving `doc` as its next version (the first: it is created), or the problems."""
    template_id = template_id_of(key)
    try:
        if template_id is None:
            if user.space is not None:
                require(user.space, Action.EDIT)
            row = await store.create_template(
                conn, owner_id=user.id, document=doc, space_id=space_id(user)
            )
        else:
            await _own(conn, template_id, user)
            row = await store.save_version(
                conn,
                user_id=user.id,
                template_id=template_id,
                document=doc,
                space_id=space_id(user),
            )
    except TemplateInvalid as exc:
        return [(p.path, p.message) for p in exc.problems]
    except TemplateNotFound:
        raise NoSuchTemplate(key) from None
    return view(row, await store.get_document(conn, row))


async def versions(conn: AsyncConnection, t: dict, user_id: int) -> list[dict]:
    """The history of a template already checked to be the user's (`editable`)."""
    if t["version"] is None:
        return []
    return await (await conn.execute(store.LIST_VERSIONS, {"id": t["id"]})).fetchall()


async def restore(conn: AsyncConnection, template_id: int, version: int, user: Any) -> None:
    await _own(conn, template_id, user)
    try:
        await store.restore_version(
            conn,
            user_id=user.id,
            template_id=template_id,
            version=version,
            space_id=space_id(user),
        )
    except TemplateNotFound:
        raise NoSuchTemplate(template_id) from None


async def visible(conn: AsyncConnection, template_id: int, user: Any) -> dict:
    """A template the user may run or copy (the space's, gallery, or a share link they opened)."""
    try:
        row = await store.get_template(
            conn, user_id=user.id, template_id=template_id, space_id=space_id(user)
        )
    except TemplateNotFound:
        raise NoSuchTemplate(template_id) from None
    return view(row, await store.get_document(conn, row))


async def listing(
    conn: AsyncConnection, user: Any, tab: str, *, q: str | None, category: str | None
) -> list[dict]:
    rows = (await store.list_templates(conn, user_id=user.id, space_id=space_id(user)))[tab]
    if category:
        rows = [r for r in rows if r["category"] == category]
    shown = []
    for row in rows[:LIST_LIMIT]:
        t = view(row, await store.get_document(conn, row))
        if q and q.lower() not in f"{t['title']}\n{t['description']}\n{t['slug']}".lower():
            continue
        shown.append(t)
    return shown


async def categories(conn: AsyncConnection, user: Any, tab: str) -> list[str]:
    rows = (await store.list_templates(conn, user_id=user.id, space_id=space_id(user)))[tab]
    return sorted({r["category"] for r in rows if r["category"]})


async def set_visibility(
    conn: AsyncConnection, template_id: int, user: Any, visibility: str
) -> dict:
    await _own(conn, template_id, user)
    return await store.set_visibility(
        conn,
        user_id=user.id,
        template_id=template_id,
        visibility=visibility,
        space_id=space_id(user),
    )


async def unpublish(conn: AsyncConnection, template_id: int) -> None:
    try:
        await store.unpublish(conn, template_id=template_id)
    except TemplateNotFound:
        raise NoSuchTemplate(template_id) from None


async def use(
    conn: AsyncConnection, template_id: int, user: Any, *, token: str | None
) -> int | str:
    """'Use': a private copy in the current space's templates (EDIT there), by its id; "new" when the
    copy waits in the new template's editor for the user's own values. A share link's token lets its
    reader copy it."""
    if user.space is not None:
        require(user.space, Action.EDIT)
    try:
        if token:
            row = await store.open_share_link(conn, user_id=user.id, token=token)
            if row["id"] != template_id:
                raise NoSuchTemplate(template_id)
        copy = await store.use_template(
            conn, user_id=user.id, template_id=template_id, space_id=space_id(user)
        )
    except TemplateNotFound:
        raise NoSuchTemplate(template_id) from None
    except store.CopyNeedsEdits as exc:
        # Opened as a new template's draft: the editor shows what to fill in (e.g. a webhook's URL)
        # beside its field, and saving makes it the user's own.
        await store.put_draft(
            conn,
            user_id=user.id,
            template_id=None,
            document=exc.document,
            space_id=space_id(user),
        )
        return "new"
    return copy["id"]


async def by_share_token(conn: AsyncConnection, token: str, user: Any) -> dict:
    try:
        row = await store.open_share_link(conn, user_id=user.id, token=token)
    except TemplateNotFound:
        raise NoSuchTemplate(token) from None
    return view(row, store.strip_private(await store.get_document(conn, row)))


def share_url(t: dict) -> str | None:
    return (
        f"/templates/shared/{t['share_token']}"
        if t.get("visibility") == "link" and t.get("share_token")
        else None
    )


async def export(conn: AsyncConnection, template_id: int, user: Any) -> tuple[dict, dict]:
    t = await visible(conn, template_id, user)
    return t, store.strip_private(t["doc"])


async def import_document(
    conn: AsyncConnection, user: Any, document: Any
) -> int | list[tuple[str, str]]:
    if user.space is not None:
        require(user.space, Action.EDIT)
    try:
        row = await store.import_document(
            conn, user_id=user.id, document=document, space_id=space_id(user)
        )
    except TemplateInvalid as exc:
        return [(p.path, p.message) for p in exc.problems]
    return row["id"]


def outline(doc: dict) -> list[dict]:
    """The blocks as an indented list (the read-only view of a shared template)."""
    out: list[dict] = []

    def walk(blocks: Any, depth: int) -> None:
        for block in blocks if isinstance(blocks, list) else []:
            if not isinstance(block, dict):
                continue
            out.append(
                {
                    "depth": min(depth, 4),
                    "title": block.get("title") or str(block.get("kind", "")).replace("_", " "),
                    "name": block.get("id"),
                }
            )
            for key in ("blocks", "then", "else"):
                walk(block.get(key), depth + 1)

    walk(doc.get("blocks"), 0)
    return out


# -- runs --------------------------------------------------------------------------------------


async def start(
    conn: AsyncConnection, t: dict, values: dict, user: Any, *, chat: InChat | None = None
):
    """A run of the template's current version in the current space, through the one start path.
    Started or Refused (a viewer: policy.Forbidden, a 403)."""
    if user.space is not None:
        require(user.space, Action.START)
    try:
        choice = await choose(conn, user_id=user.id, template_id=t["id"], space_id=space_id(user))
    except TemplateNotFound:
        raise NoSuchTemplate(t["id"]) from None
    return await start_run(conn, template=choice, input=values, user_id=user.id, chat=chat)


async def start_test(conn: AsyncConnection, t: dict, doc: dict, values: dict, user: Any):
    """A test run of what the editor shows, saved or not, in the current space, through the one
    start path (it counts for the quota; a viewer: policy.Forbidden, a 403). No version is made:
    the run keeps the exact draft it runs beside itself (app.templates.store.put_test_run), so a
    resumed run loads the same document. Returns (Started or Refused, the template)."""
    if user.space is not None:
        require(user.space, Action.START)
    try:
        checked = await store.check_document(conn, user.id, doc, space_id(user))
    except TemplateInvalid:
        return Refused("invalid_input", "Fix the template's problems first."), t
    choice = TemplateChoice(
        template_id_of(t["key"]),
        None,
        t["slug"] or "draft",
        parse(checked),
        space_id=space_id(user),
        draft=checked,
    )
    return await start_run(conn, template=choice, input=values, user_id=user.id), t
