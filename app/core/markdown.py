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


_md.core.ruler.push("alignment_as_class", _alignment_as_class)

_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
}
_CLASSES = {"th": set(_ALIGN.values()), "td": set(_ALIGN.values())}


def render_markdown(text: str) -> Markup:
    html = _md.render(text)
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
