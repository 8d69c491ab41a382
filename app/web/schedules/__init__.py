"""/schedules: the pages of a person's schedules (app/schedules is the domain)."""

from app.web.schedules.routes import router

__all__ = ["router"]
