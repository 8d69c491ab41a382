"""The bell (/notifications), the nav's live counts (/notifications/nav) and the page's live
channel (/live, see live.py); and the mails' unsubscribe links (/unsubscribe, no login)."""

from app.web.notifications.routes import router
from app.web.notifications.unsubscribe import unsubscribe_router

__all__ = ["router", "unsubscribe_router"]
