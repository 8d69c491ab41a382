"""The workflows dashboard (/workflows) and run detail pages."""

from app.web.runs.routes import router

__all__ = ["router"]
