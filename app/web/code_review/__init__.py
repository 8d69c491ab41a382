"""Code-review runs on the web: the card's section (panel.py, in `PANELS`, which the app registers
with the run card), the "Fixes pushed" button and the signed endpoint a git hook or CI calls with
the new head ref (routes.py)."""

from app.web.code_review.panel import code_review_panel
from app.web.code_review.routes import hooks_router, router
from app.workflows.code_review import NAME

PANELS = {NAME: code_review_panel}

__all__ = ["PANELS", "hooks_router", "router"]
