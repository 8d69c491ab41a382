"""Importing this module registers every built-in workflow (the worker and the web both import
it); `load_workflow_modules` adds a deployment's own, named in BATON_WORKFLOW_MODULES."""

import importlib

from app.core.config import ConfigError
from app.engine.registry import catalog, get_workflow  # noqa: F401
from app.workflows import code_review, content, data_analysis, documents, notices, publishing, research, selftest  # noqa: F401


def load_workflow_modules(modules: tuple[str, ...]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"BATON_WORKFLOW_MODULES: cannot import {module!r} ({exc})") from None
