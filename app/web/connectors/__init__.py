"""Settings → Connectors (`/settings/connectors`): where a user's scheduled posts are published."""

from app.web.connectors.routes import router

__all__ = ["router"]
