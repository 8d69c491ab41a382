"""Teams in the browser: /teams (my teams, create one), /teams/<slug> (members, roles, invitations,
usage per member), the header's space switcher (GET /spaces/menu, POST /spaces/switch) and the invitation links
(/invitations/<token>). The rules live in app/spaces; who may do what in app/core/policy.py."""

from app.web.teams.invitation_pages import router as invitations_router
from app.web.teams.routes import router, spaces_router

routers = [router, spaces_router, invitations_router]

__all__ = ["invitations_router", "router", "routers", "spaces_router"]
