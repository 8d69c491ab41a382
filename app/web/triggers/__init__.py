"""Triggers from outside: the delivery endpoint `POST /hooks/t/<id>` (deliver.py) and the pages
`/triggers` (routes.py). The domain (store, secrets, mapping) is app/triggers."""

from app.web.triggers.deliver import router as hooks_router

routers = [hooks_router]

__all__ = ["routers"]
