"""Account settings pages other than /account: API keys (`/settings/api-keys`), notifications
(`/settings/notifications`), time zone and theme (`/settings/display`, `POST /theme`)."""

from app.web.settings.display import router as display_router
from app.web.settings.display import theme_router
from app.web.settings.routes import router

__all__ = ["display_router", "router", "theme_router"]
