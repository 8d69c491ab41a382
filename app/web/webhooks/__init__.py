"""Webhook deliveries that resume runs: `POST /hooks/<token>` (see routes.py)."""

from app.web.webhooks.routes import router, signature

__all__ = ["router", "signature"]
