"""PDFs with WeasyPrint, from an HTML template in templates/reports/.

    data = render_pdf("document.html", title=..., date=..., body_html=Markup(...))

A report extends `_base.html` (the A4 page frame, numbered pages, header and footer) and fills its
blocks. The template is rendered with autoescaping; pass model output only as HTML that went through
`app.core.markdown.render_markdown` (sanitized). WeasyPrint fetches nothing: every URL (images,
stylesheets, fonts by URL) is refused, so a document cannot make Baton reach the network or read
local files. Blocking and CPU-bound (tens to hundreds of ms): call it in a thread.
"""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.core.paths import TEMPLATES_DIR

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR / "reports"), autoescape=select_autoescape(["html"])
)


class FetchRefused(Exception):
    pass


def _refuse(url: str, *args, **kwargs):
    raise FetchRefused(f"documents may not load {url[:80]!r}")


def render_html(template: str, **context) -> str:
    return _env.get_template(template).render(**context)


def render_pdf(template: str, **context) -> bytes:
    from weasyprint import HTML  # slow to import: only where PDFs are made

    return HTML(
        string=render_html(template, **context), url_fetcher=_refuse, base_url="about:blank"
    ).write_pdf()
