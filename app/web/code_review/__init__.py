"""Code-review runs on the web: the card's section (panel.py, registered with the shared card when
this package is imported), the "Fixes pushed" button and the signed endpoint a git hook or CI calls
with the new head ref (routes.py)."""

from app.web.chat import run_cards
from app.web.code_review.panel import code_review_panel
from app.web.code_review.routes import hooks_router, router

run_cards.PANELS["code-review"] = code_review_panel

__all__ = ["hooks_router", "router"]
