from litestar import Request, get
from litestar.response import Redirect


@get("/", include_in_schema=False)
async def home(request: Request) -> Redirect:
    """Signed-in people live in the chat; everyone else starts at the login page."""
    return Redirect("/chat" if request.scope.get("user") else "/login", status_code=303)
