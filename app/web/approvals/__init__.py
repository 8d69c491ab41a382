"""Approvals: the inbox at /approvals, a hook's review page, and the email links at /review/<token>."""

from app.web.approvals.routes import review_router, router

__all__ = ["review_router", "router"]
