"""The schedule editor of `scheduled-publishing` runs: edit, delete, reorder and reschedule posts,
cancel the remaining ones (routes.py); its section of the run card (panel.py, registered with the
shared card when this package is imported)."""

from app.web.chat import run_cards
from app.web.publishing.panel import publishing_panel
from app.web.publishing.routes import router

run_cards.PANELS["scheduled-publishing"] = publishing_panel

__all__ = ["router"]
