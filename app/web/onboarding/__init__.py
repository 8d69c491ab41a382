"""The first-run checklist: what a new account has done so far, read from its real data."""

from app.web.onboarding.routes import router

__all__ = ["router"]
