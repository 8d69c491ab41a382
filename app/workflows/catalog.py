"""Importing this module registers every workflow (the worker and the web both import it)."""

from app.engine.registry import catalog, get_workflow  # noqa: F401
from app.workflows import selftest  # noqa: F401
