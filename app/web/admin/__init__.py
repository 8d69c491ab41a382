"""Admin pages for accounts: the users list and the tiers' limits (other admin pages live with
their own areas)."""

from app.web.admin.outbox import outbox_router
from app.web.admin.routes import router
from app.web.admin.setup_status import router as setup_router

__all__ = ["outbox_router", "router", "setup_router"]
