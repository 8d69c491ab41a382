"""How a handler tells an HTMX swap from a page load, and how it sends the browser elsewhere:
one answer for every area."""

from litestar import Request, Response
from litestar.response import Redirect


def is_htmx(request: Request) -> bool:
    """A targeted HTMX request, answered with a fragment. A boosted link or form (HX-Boosted) is a
    page navigation and gets the whole page, like a browser without JavaScript."""
    return (
        request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
    )


def navigate(request: Request, url: str) -> Response:
    """Go to `url`: HTMX loads the page in place (and updates the address bar) on HX-Location; a
    plain form gets a 303 redirect."""
    if is_htmx(request):
        return Response(None, status_code=200, headers={"HX-Location": url})
    return Redirect(url, status_code=303)
