"""The bell (/notifications), the nav's live counts (/notifications/nav) and the page's live
channel (/live, see live.py)."""

from app.web.notifications.routes import router

__all__ = ["router"]
