"""Admin pages for accounts: the users list and the tiers' limits (other admin pages live with
their own areas)."""

from app.web.admin.outbox import outbox_router
from app.web.admin.routes import router

__all__ = ["outbox_router", "router"]
