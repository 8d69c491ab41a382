"""Account settings pages other than /account: API keys (`/settings/api-keys`) and notifications
(`/settings/notifications`)."""

from app.web.settings.routes import router

__all__ = ["router"]
