"""The first-run checklist: what a new account has done so far, read from its real data."""

from app.web.onboarding.routes import router
from app.web.onboarding.store import checklist_for

__all__ = ["checklist_for", "router"]
