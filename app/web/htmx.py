"""How a handler tells an HTMX swap from a page load: one answer for every area."""

from litestar import Request


def is_htmx(request: Request) -> bool:
    """A targeted HTMX request, answered with a fragment. A boosted link or form (HX-Boosted) is a
    page navigation and gets the whole page, like a browser without JavaScript."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
