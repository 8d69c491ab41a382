"""Admin analytics: the overview at /admin, all runs, and the model price table."""

from app.web.analytics.routes import router

__all__ = ["router"]
