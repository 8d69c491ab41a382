"""The schedule editor of `scheduled-publishing` runs: edit, delete, reorder and reschedule posts,
cancel the remaining ones (routes.py); its section of the run card (panel.py, in `PANELS`, which
the app registers with the run card)."""

from app.web.publishing.panel import publishing_panel
from app.web.publishing.routes import router
from app.workflows.publishing import NAME

PANELS = {NAME: publishing_panel}

__all__ = ["PANELS", "router"]
