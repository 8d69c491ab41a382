"""/audit: the audit log of the current space (or of `?team=SLUG`, one of the reader's teams), for
its admins and owners (a personal space's owner reads their own); filters, paging, CSV export.
The log itself is app/core/audit.py; the API's `GET /api/v1/audit` is app/web/api/audit.py."""

from app.web.audit.routes import router

__all__ = ["router"]
