"""Templates in Postgres: create, save a version, restore, list, copy ("Use"), share, publish, export,
import, drafts. Every function takes the acting user and the space it acts in (`space_id`; None: the
user's personal space) and answers `TemplateNotFound` for a template not visible there (another
space's template is "not found" everywhere; a team's templates are its members'). Roles are checked
by the callers (app/core/policy.py: EDIT to change, START to run); changes are recorded in the
space's audit log in their transaction. Documents are validated
before anything is written, so a refused save leaves nothing behind.
"""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb

from app.core import audit
from app.core.sql_queries import load_queries
from app.templates.format import Problem, parse, validate_document

SQL = load_queries(__file__)
VISIBLE_BY_SLUG = SQL["visible_by_slug"]
VISIBLE_BY_ID = SQL["visible_by_id"]
OWN_FOR_UPDATE = SQL["own_for_update"]
BY_SHARE_TOKEN = SQL["by_share_token"]
RECORD_LINK_VIEW = SQL["record_link_view"]
SLUG_TAKEN = SQL["slug_taken"]
INSERT_TEMPLATE = SQL["insert_template"]
INSERT_VERSION = SQL["insert_version"]
REPLACE_STARTER = SQL["replace_starter"]
GET_VERSION = SQL["get_version"]
LIST_VERSIONS = SQL["list_versions"]
LIST_MINE = SQL["list_mine"]
LIST_SHARED = SQL["list_shared"]
LIST_GALLERY = SQL["list_gallery"]
LIST_ALL = SQL["list_all"]
SET_SHARING = SQL["set_sharing"]
UNPUBLISH = SQL["unpublish"]
SOFT_DELETE = SQL["soft_delete"]
GET_DRAFT = SQL["get_draft"]
PUT_DRAFT = SQL["put_draft"]
DELETE_DRAFT = SQL["delete_draft"]
SPACE_CONNECTORS = SQL["space_connectors"]
PERSONAL_SPACE = SQL["personal_space"]
SPACE_KIND = SQL["space_kind"]
USER_BY_EMAIL = SQL["user_by_email"]
RUN_TEMPLATE_VERSION = SQL["run_template_version"]
PUT_TEST_RUN = SQL["put_test_run"]
ATTACH_UPLOADS = SQL["attach_uploads"]

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


class TemplateNotFound(Exception):
    code = "not_found"


class TemplateInvalid(Exception):
    """The document has problems; nothing was saved."""

    code = "invalid_template"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems[:5]))


class CopyNeedsEdits(TemplateInvalid):
    """'Use' cannot save the copy as it is: `document` (private values removed) has `problems`."""

    def __init__(self, problems: list[Problem], document: dict):
        super().__init__(problems)
        self.document = document


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:50].strip("-")
    return slug or "template"


async def space_of(conn: AsyncConnection, user_id: int | None, space_id: int | None) -> int | None:
    """The space a call acts in: `space_id`, else the user's personal space (None for operators)."""
    if space_id is not None or user_id is None:
        return space_id
    row = await (await conn.execute(PERSONAL_SPACE, {"user_id": user_id})).fetchone()
    return row["id"] if row else None


async def _free_slug(conn: AsyncConnection, space_id: int | None, wanted: str) -> str:
    base, n = wanted[:50], 1
    slug = base
    while await (await conn.execute(SLUG_TAKEN, {"space_id": space_id, "slug": slug})).fetchone():
        n += 1
        slug = f"{base}-{n}"
    return slug


async def check_document(
    conn: AsyncConnection, user_id: int | None, document: Any, space_id: int | None = None
) -> dict:
    """The document normalised, or TemplateInvalid with every problem (connectors checked against
    the space's: a template publishes only through a connector of its own space; a review assigned
    to a role only in a team's template)."""
    names = set()
    team = None  # not checked: an instance starter (no space)
    if user_id is not None:
        space_id = await space_of(conn, user_id, space_id)
        names = {
            r["name"]
            for r in await (await conn.execute(SPACE_CONNECTORS, {"space_id": space_id})).fetchall()
        }
    if space_id is not None:
        row = await (await conn.execute(SPACE_KIND, {"space_id": space_id})).fetchone()
        team = row["kind"] == "team" if row else None
    problems = validate_document(
        document,
        connector_exists=(lambda n: n in names) if user_id is not None else None,
        team=team,
    )
    if problems:
        raise TemplateInvalid(problems)
    return parse(document).dump()


async def create_template(
    conn: AsyncConnection,
    *,
    owner_id: int | None,
    document: Any,
    slug: str | None = None,
    visibility: str = "private",
    copied_from: int | None = None,
    space_id: int | None = None,
) -> dict:
    """A new template (version 1) in the space. `slug` None: from the title, made unique in the space."""
    space_id = await space_of(conn, owner_id, space_id)
    doc = await check_document(conn, owner_id, document, space_id)
    if slug is not None and not SLUG.match(slug):
        raise TemplateInvalid(
            [Problem("slug", "Use lower-case letters, digits and -, at most 60 characters.")]
        )
    async with conn.transaction():
        if (
            slug is not None
            and await (
                await conn.execute(SLUG_TAKEN, {"space_id": space_id, "slug": slug})
            ).fetchone()
        ):
            raise TemplateInvalid(
                [Problem("slug", f"You already have a template called “{slug}”.")]
            )
        slug = slug or await _free_slug(conn, space_id, slugify(doc["title"]))
        row = await (
            await conn.execute(
                INSERT_TEMPLATE,
                {
                    "owner_id": owner_id,
                    "space_id": space_id,
                    "slug": slug,
                    "title": doc["title"],
                    "category": doc.get("category", "General"),
                    "visibility": visibility,
                    "copied_from": copied_from,
                    "document": Jsonb(doc),
                },
            )
        ).fetchone()
        if owner_id is not None:
            await conn.execute(DELETE_DRAFT, {"user_id": owner_id, "template_id": None})
            await _audit(conn, row, owner_id, "template.save", version=1)
    return row


async def _audit(conn: AsyncConnection, row: dict, user_id: int, action: str, **detail) -> None:
    await audit.record(
        conn,
        space_id=row["space_id"],
        actor_id=user_id,
        action=action,
        object_kind="template",
        object_id=row["id"],
        detail={"slug": row["slug"], **detail},
    )


async def _own(
    conn: AsyncConnection, user_id: int, template_id: int, space_id: int | None = None
) -> dict:
    space_id = await space_of(conn, user_id, space_id)
    row = await (
        await conn.execute(OWN_FOR_UPDATE, {"id": template_id, "space_id": space_id})
    ).fetchone()
    if row is None:
        raise TemplateNotFound("no such template")
    return row


async def save_version(
    conn: AsyncConnection,
    *,
    user_id: int,
    template_id: int,
    document: Any,
    space_id: int | None = None,
) -> dict:
    """Save the document as the template's next version (a template of the space)."""
    space_id = await space_of(conn, user_id, space_id)
    doc = await check_document(conn, user_id, document, space_id)
    async with conn.transaction():
        row = await _own(conn, user_id, template_id, space_id)
        row = await (
            await conn.execute(
                INSERT_VERSION,
                {
                    "id": template_id,
                    "version": row["current_version"] + 1,
                    "document": Jsonb(doc),
                    "user_id": user_id,
                    "title": doc["title"],
                    "category": doc.get("category", "General"),
                },
            )
        ).fetchone()
        await conn.execute(DELETE_DRAFT, {"user_id": user_id, "template_id": template_id})
        await _audit(conn, row, user_id, "template.save", version=row["current_version"])
    return row


async def restore_version(
    conn: AsyncConnection,
    *,
    user_id: int,
    template_id: int,
    version: int,
    space_id: int | None = None,
) -> dict:
    """An old version becomes current again, as a new version (history is never rewritten)."""
    space_id = await space_of(conn, user_id, space_id)
    async with conn.transaction():
        await _own(conn, user_id, template_id, space_id)
        old = await (
            await conn.execute(GET_VERSION, {"id": template_id, "version": version})
        ).fetchone()
        if old is None:
            raise TemplateNotFound("no such version")
        return await save_version(
            conn,
            user_id=user_id,
            template_id=template_id,
            document=old["document"],
            space_id=space_id,
        )


async def get_template(
    conn: AsyncConnection,
    *,
    user_id: int | None,
    slug: str | None = None,
    template_id: int | None = None,
    space_id: int | None = None,
) -> dict:
    """A template the user may see in the space, by slug or id (`user_id` None: an operator sees
    every one)."""
    params = {
        "slug": slug,
        "id": template_id,
        "user_id": user_id,
        "space_id": await space_of(conn, user_id, space_id),
        "operator": user_id is None,
    }
    row = await (
        await conn.execute(VISIBLE_BY_SLUG if slug is not None else VISIBLE_BY_ID, params)
    ).fetchone()
    if row is None:
        raise TemplateNotFound("no such template")
    return row


async def get_document(conn: AsyncConnection, template: dict, version: int | None = None) -> dict:
    row = await (
        await conn.execute(
            GET_VERSION, {"id": template["id"], "version": version or template["current_version"]}
        )
    ).fetchone()
    if row is None:
        raise TemplateNotFound("no such version")
    return row["document"]


async def list_versions(
    conn: AsyncConnection, *, user_id: int | None, template_id: int, space_id: int | None = None
) -> list[dict]:
    await get_template(conn, user_id=user_id, template_id=template_id, space_id=space_id)
    return await (await conn.execute(LIST_VERSIONS, {"id": template_id})).fetchall()


async def list_templates(
    conn: AsyncConnection, *, user_id: int | None, space_id: int | None = None
) -> dict[str, list[dict]]:
    """{"mine" (the space's), "shared", "gallery"} for a user; {"all"} for an operator (user_id None)."""
    if user_id is None:
        return {"all": await (await conn.execute(LIST_ALL)).fetchall()}
    space_id = await space_of(conn, user_id, space_id)
    params = {"user_id": user_id, "space_id": space_id}
    mine = await (await conn.execute(LIST_MINE, params)).fetchall()
    return {
        "mine": mine,
        "shared": await (await conn.execute(LIST_SHARED, params)).fetchall(),
        "gallery": [
            r
            for r in await (await conn.execute(LIST_GALLERY)).fetchall()
            if r["space_id"] is None or r["space_id"] != space_id
        ],
    }


async def use_template(
    conn: AsyncConnection, *, user_id: int, template_id: int, space_id: int | None = None
) -> dict:
    """'Use': a private copy, in the space, of a template the user may see there; the author's later
    edits don't change it. A copy that needs the user's own values first (a webhook's URL is not
    copied; a connector the user lacks) raises CopyNeedsEdits with the document to edit."""
    source = await get_template(conn, user_id=user_id, template_id=template_id, space_id=space_id)
    document = strip_private(await get_document(conn, source))
    try:
        return await create_template(
            conn, owner_id=user_id, document=document, copied_from=source["id"], space_id=space_id
        )
    except TemplateInvalid as exc:
        raise CopyNeedsEdits(exc.problems, document) from None


async def open_share_link(conn: AsyncConnection, *, user_id: int, token: str) -> dict:
    """The template a live share link names, now in the user's "shared with me"."""
    row = await (await conn.execute(BY_SHARE_TOKEN, {"token": token})).fetchone() if token else None
    if row is None:
        raise TemplateNotFound("no such template")
    if row["owner_id"] != user_id:
        await conn.execute(RECORD_LINK_VIEW, {"template_id": row["id"], "user_id": user_id})
    return row


async def set_visibility(
    conn: AsyncConnection,
    *,
    user_id: int,
    template_id: int,
    visibility: str,
    space_id: int | None = None,
) -> dict:
    """private, link (a new share token unless one exists) or gallery (published). The space's only."""
    if visibility not in ("private", "link", "gallery"):
        raise TemplateInvalid([Problem("visibility", "Choose private, link or gallery.")])
    async with conn.transaction():
        row = await _own(conn, user_id, template_id, space_id)
        token = (row["share_token"] or secrets.token_urlsafe(18)) if visibility == "link" else None
        row = await (
            await conn.execute(
                SET_SHARING, {"id": template_id, "visibility": visibility, "token": token}
            )
        ).fetchone()
        await _audit(conn, row, user_id, "template.share", visibility=visibility)
        return row


async def unpublish(conn: AsyncConnection, *, template_id: int) -> dict:
    """An admin's unpublish (the caller checks the admin)."""
    row = await (await conn.execute(UNPUBLISH, {"id": template_id})).fetchone()
    if row is None:
        raise TemplateNotFound("no such template in the gallery")
    return row


async def delete_template(
    conn: AsyncConnection, *, user_id: int, template_id: int, space_id: int | None = None
) -> None:
    space_id = await space_of(conn, user_id, space_id)
    async with conn.transaction():
        row = await (
            await conn.execute(SOFT_DELETE, {"id": template_id, "space_id": space_id})
        ).fetchone()
        if row is None:
            raise TemplateNotFound("no such template")
        await audit.record(
            conn,
            space_id=space_id,
            actor_id=user_id,
            action="template.delete",
            object_kind="template",
            object_id=template_id,
        )


def strip_private(document: dict) -> dict:
    """The document without what must not leave its owner: webhook URLs (they often carry a token)
    and signing keys, and e-mail addresses (reviewers, people asked, recipients). Connectors stay
    named; their secrets never were in it. A webhook without its URL does not validate, so whoever
    imports or copies the document is asked for it (`blocks.N.url`)."""
    doc = copy.deepcopy(document)

    def walk(blocks: list) -> None:
        for block in blocks:
            block.pop("secret", None)
            if block.get("kind") == "send" and block.get("channel") == "webhook":
                block.pop("url", None)
            if "assignee" in block:
                block.pop("assignee")
            if block.get("kind") == "send" and block.get("to", "owner") != "owner":
                block["to"] = "owner"
            if block.get("kind") == "ask_person":
                defaults(block.get("fields") or [])
            for key in ("blocks", "then", "else"):
                walk(block.get(key) or [])

    def defaults(fields: list) -> None:
        for field in fields:
            if isinstance(field, dict) and _has_email(field.get("default")):
                field.pop("default")

    walk(doc.get("blocks") or [])
    defaults(doc.get("inputs") or [])
    return doc


EMAIL = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+")


def _has_email(value: Any) -> bool:
    """A default (text or list of texts) that holds an e-mail address."""
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, str) and EMAIL.search(v) for v in values)


async def export_document(
    conn: AsyncConnection, *, user_id: int | None, slug: str, space_id: int | None = None
) -> dict:
    template = await get_template(conn, user_id=user_id, slug=slug, space_id=space_id)
    return strip_private(await get_document(conn, template))


async def import_document(
    conn: AsyncConnection,
    *,
    user_id: int,
    document: Any,
    slug: str | None = None,
    space_id: int | None = None,
) -> dict:
    """Validated like a save; saved as a private template of the space."""
    return await create_template(
        conn, owner_id=user_id, document=document, slug=slug, space_id=space_id
    )


async def get_draft(
    conn: AsyncConnection, *, user_id: int, template_id: int | None, space_id: int | None = None
) -> dict | None:
    if template_id is not None:
        await get_template(conn, user_id=user_id, template_id=template_id, space_id=space_id)
    return await (
        await conn.execute(GET_DRAFT, {"user_id": user_id, "template_id": template_id})
    ).fetchone()


async def put_draft(
    conn: AsyncConnection,
    *,
    user_id: int,
    template_id: int | None,
    document: Any,
    space_id: int | None = None,
) -> dict:
    """Autosave: any JSON object up to the size limit (drafts may be invalid; saving checks them).
    Drafts are the user's own, of a template of the space."""
    if not isinstance(document, dict) or len(str(document)) > 300_000:
        raise TemplateInvalid([Problem("", "A draft is a JSON object of at most 256 KB.")])
    if template_id is not None:
        async with conn.transaction():
            await _own(conn, user_id, template_id, space_id)
            return await (
                await conn.execute(
                    PUT_DRAFT,
                    {"user_id": user_id, "template_id": template_id, "document": Jsonb(document)},
                )
            ).fetchone()
    return await (
        await conn.execute(
            PUT_DRAFT, {"user_id": user_id, "template_id": None, "document": Jsonb(document)}
        )
    ).fetchone()


async def user_by_email(conn: AsyncConnection, email: str) -> dict | None:
    return await (await conn.execute(USER_BY_EMAIL, {"email": email.strip()})).fetchone()


async def run_template_version(conn: AsyncConnection, run_id: Any) -> dict:
    """The document the run started with (the interpreter's first, journaled, step)."""
    row = await (await conn.execute(RUN_TEMPLATE_VERSION, {"run_id": run_id})).fetchone()
    if row is None:
        raise TemplateNotFound("this run has no template version")
    return {
        "document": row["document"],
        "template_id": row["template_id"],
        "version": row["template_version"],
        "draft": row["draft"],
        # The run's `run.date`, journaled with the document (one journal entry per run fewer).
        "loaded_at": row["loaded_at"].isoformat(),
    }


async def put_test_run(
    conn: AsyncConnection, *, run_id: Any, template_id: int | None, document: dict
) -> None:
    """Keep the draft a test run runs (not a version: the history does not list it)."""
    await conn.execute(
        PUT_TEST_RUN,
        {"run_id": run_id, "template_id": template_id, "document": Jsonb(document)},
    )


async def attach_uploads(
    conn: AsyncConnection, *, owner_id: int, run_id: Any, ids: list[str]
) -> int:
    """Attach the owner's unused uploads to the run; how many were attached."""
    rows = await (
        await conn.execute(
            ATTACH_UPLOADS, {"run_id": run_id, "ids": [UUID(i) for i in ids], "owner_id": owner_id}
        )
    ).fetchall()
    return len(rows)


async def put_starter(conn: AsyncConnection, *, slug: str, document: dict) -> str:
    """A gallery starter (no owner) as shipped: created, updated to a new version when its file changed,
    or left alone. Returns "created", "updated" or "unchanged" (start-up loading is idempotent)."""
    doc = await check_document(conn, None, document)
    try:
        return await _put_starter(conn, slug, doc)
    except UniqueViolation:  # another process loaded it at the same moment
        return "unchanged"


async def _put_starter(conn: AsyncConnection, slug: str, doc: dict) -> str:
    async with conn.transaction():
        row = await (
            await conn.execute(
                VISIBLE_BY_SLUG,
                {"slug": slug, "user_id": None, "space_id": None, "operator": True},
            )
        ).fetchone()
        if row is None or row["owner_id"] is not None:
            await conn.execute(
                INSERT_TEMPLATE,
                {
                    "owner_id": None,
                    "space_id": None,
                    "slug": slug,
                    "title": doc["title"],
                    "category": doc.get("category", "General"),
                    "visibility": "gallery",
                    "copied_from": None,
                    "document": Jsonb(doc),
                },
            )
            return "created"
        if await get_document(conn, row) == doc:
            return "unchanged"
        await conn.execute(
            REPLACE_STARTER,
            {
                "id": row["id"],
                "version": row["current_version"] + 1,
                "document": Jsonb(doc),
                "title": doc["title"],
                "category": doc.get("category", "General"),
            },
        )
        return "updated"
