"""The JSON API under /api/v1 (API keys, rate limits, OpenAPI docs at /api/docs).

For the app: `router`, `openapi_config()`, and `handle` (the one error mapper: the app hands it
every error on an /api/ path that no router caught, such as unknown routes).
Keys are created, listed and revoked by `app.web.auth.api_keys` (the settings page and the CLI use it);
the error shape is `app.web.json_errors` (the webhooks share it).
"""

from app.web.api.openapi import openapi_config
from app.web.api.routes import router
from app.web.json_errors import handle

__all__ = ["handle", "openapi_config", "router"]
