"""Model output (and other untrusted text) to safe HTML: Markdown rendered, then sanitized.

Two independent guards: markdown-it runs with raw HTML disabled, so `<script>` or `<img onerror=…>`
in the source is escaped and shown as text; nh3 then keeps only an allowlist of tags, attributes
and URL schemes, so nothing the renderer (or a future plugin) emits can run script. Images are dropped: a reply
steered by injected text could otherwise leak the conversation through an image URL.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
_ALIGN = {f"text-align:{side}": f"align-{side}" for side in ("left", "center", "right")}


def _alignment_as_class(state: StateCore) -> None:
    """A table column's alignment as a class (static/css/baton.css), not a style attribute: pages
    allow no inline styles (their Content-Security-Policy, app/web/security_headers.py)."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and token.attrGet("style") in _ALIGN:
            token.attrSet("class", _ALIGN[token.attrs.pop("style")])


def _fit_headings(state: StateCore) -> None:
    """A model writes its text as a page of its own (`# Title`, `## Part`); shown inside a card or a
    report it is a part of that page. With `top` in the render's env the text's highest heading
    becomes that level and the others follow (never below h6); with `title`, a leading heading that
    only repeats the title the page already shows is left out."""
    title = " ".join(str(state.env.get("title") or "").split()).casefold()
    tokens = state.tokens
    if (
        title
        and len(tokens) >= 3
        and tokens[0].type == "heading_open"
        and " ".join(tokens[1].content.split()).casefold().strip(" #*_") == title
    ):
        del tokens[:3]
    top = state.env.get("top")
    levels = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
    if not top or not levels:
        return
    shift = max(0, int(top) - min(levels))
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + shift)}"


_md.core.ruler.push("alignment_as_class", _alignment_as_class)
_md.core.ruler.push("fit_headings", _fit_headings)

_TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
}
_CLASSES = {"th": set(_ALIGN.values()), "td": set(_ALIGN.values())}


def render_markdown(text: str, *, top: int | None = None, title: str | None = None) -> Markup:
    """`top`: the heading level the text's highest heading becomes (3 under a page's h2); `title`:
    the title the page already shows, left out if the text starts with it as a heading."""
    html = _md.render(text, {"top": top, "title": title})
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        allowed_classes=_CLASSES,
    )
    return Markup(clean)
