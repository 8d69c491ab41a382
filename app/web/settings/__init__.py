"""Account settings pages other than /account: API keys (`/settings/api-keys`)."""

from app.web.settings.routes import router

__all__ = ["router"]
