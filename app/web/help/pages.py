"""The guides as the app reads them: the Markdown files of docs/user/ (at /help) and docs/admin/ (at
/help/admin), the same files the repository shows, in reading order, and a plain-text search."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from markupsafe import Markup

from app.core.markdown import render_markdown
from app.core.paths import ROOT

DOCS = ROOT / "docs"
# Each guide's folder under docs/, the URL it is served at, and its reading order (a page not named
# comes after these, by file name).
BOOKS = {
    "user": (
        "/help",
        (
            "getting-started",
            "chat",
            "workflows-and-approvals",
            "files-and-reports",
            "templates",
            "schedules",
            "triggers",
            "rerun-and-replay",
            "teams",
            "notifications",
            "troubleshooting",
        ),
    ),
    "admin": (
        "/help/admin",
        (
            "setup",
            "installing",
            "configuration",
            "users-and-tiers",
            "costs-and-quotas",
            "analytics",
            "mail",
            "backups",
            "upgrading",
            "monitoring",
            "troubleshooting",
        ),
    ),
}
SNIPPET = 160

_HEADING = re.compile(r"^(#{1,3}) +(.+?) *#*$", re.M)
# A link to another page of a guide: `[text](chat.md)` -> /help/chat, `(../admin/backups.md)` ->
# /help/admin/backups. Other relative links (the repository's docs/*.md) become their path in the
# repository, shown as code: the app does not serve those files.
_DOC_LINK = re.compile(
    r"\[([^\]]*)\]\((?:\.\./(user|admin)/)?([a-z0-9-]+)\.md(?:#[A-Za-z0-9_-]+)?\)"
)
_REPO_LINK = re.compile(r"\[([^\]]*)\]\((?![a-z]+:|/|#)([^)\s]+)\)")


@dataclass(frozen=True)
class Page:
    book: str
    slug: str
    title: str
    text: str

    @property
    def url(self) -> str:
        return f"{BOOKS[self.book][0]}/{self.slug}"

    @property
    def html(self) -> Markup:
        return _render(self.book, self.text)


@functools.lru_cache(maxsize=64)
def _render(book: str, text: str) -> Markup:
    def guide_link(m: re.Match) -> str:
        return f"[{m[1]}]({BOOKS[m[2] or book][0]}/{m[3]})"

    text = _DOC_LINK.sub(guide_link, text)
    text = _REPO_LINK.sub(lambda m: f"{m[1]} (`docs/{m[2].removeprefix('../')}`)", text)
    return render_markdown(text)


@dataclass(frozen=True)
class Hit:
    page: Page
    section: str
    snippet: str
    score: int


@functools.lru_cache(maxsize=2)
def pages(book: str = "user") -> tuple[Page, ...]:
    """Read once per process: the files ship with the release and do not change while it runs."""
    _, order = BOOKS[book]
    found = {}
    for path in sorted((DOCS / book).glob("*.md")):
        text = path.read_text(encoding="utf-8")
        title = next(
            (m[2] for m in _HEADING.finditer(text) if m[1] == "#"),
            path.stem.replace("-", " ").title(),
        )
        found[path.stem] = Page(book, path.stem, title, text)
    rank = {slug: i for i, slug in enumerate(order)}
    return tuple(sorted(found.values(), key=lambda p: (rank.get(p.slug, len(order)), p.slug)))


def page(book: str, slug: str) -> Page | None:
    return next((p for p in pages(book) if p.slug == slug), None)


def _sections(page: Page) -> list[tuple[str, str]]:
    """(heading, body) pairs; the text before the first subheading belongs to the page title."""
    parts, heading, start = [], page.title, 0
    for m in _HEADING.finditer(page.text):
        parts.append((heading, page.text[start : m.start()]))
        heading, start = m[2], m.end()
    parts.append((heading, page.text[start:]))
    return [(h, body) for h, body in parts if body.strip()]


def _plain(markdown: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # links: keep their words
    text = re.sub(r"[`*_|>#]", " ", text)
    return " ".join(text.split())


def search(query: str, books: tuple[str, ...] = ("user",), limit: int = 20) -> list[Hit]:
    """Sections containing every word of the query (case-insensitive), best first: most
    occurrences, a word in the heading counting extra."""
    words = [w for w in query.lower().split() if w][:8]
    if not words:
        return []
    hits = []
    for p in (p for book in books for p in pages(book)):
        for heading, body in _sections(p):
            text = _plain(body)
            lower, head = text.lower(), heading.lower()
            if not all(w in lower or w in head for w in words):
                continue
            score = sum(lower.count(w) + 5 * head.count(w) for w in words)
            at = min((i for i in (lower.find(w) for w in words) if i >= 0), default=0)
            start = max(0, at - SNIPPET // 3)
            snippet = (
                ("…" if start else "")
                + text[start : start + SNIPPET]
                + ("…" if start + SNIPPET < len(text) else "")
            )
            hits.append(Hit(p, heading, snippet, score))
    return sorted(hits, key=lambda h: -h.score)[:limit]
