"""Triggers from outside: the delivery endpoint `POST /hooks/t/<id>` (deliver.py) and the pages
`/triggers` (routes.py). The domain (store, secrets, mapping) is app/triggers."""

from app.web.triggers.deliver import router as hooks_router
from app.web.triggers.routes import router as pages_router

routers = [hooks_router, pages_router]

__all__ = ["routers"]
