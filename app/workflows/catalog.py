"""Importing this module registers every built-in workflow (the worker and the web both import
it); `load_workflow_modules` adds a deployment's own, named in BATON_WORKFLOW_MODULES."""

import importlib

from app.core.config import ConfigError
from app.engine.registry import catalog, get_workflow  # noqa: F401
from app.workflows import (  # noqa: F401
    code_review,
    content,
    data_analysis,
    documents,
    notices,
    publishing,
    research,
    selftest,
)

# The chat's slash commands: `/report <prompt>` starts content-generation with {"prompt": ...}.
# The chat dispatches on this table and the Help page lists it (app/web/help), so they cannot differ.
SLASH_COMMANDS = {"/report": ("content-generation", "prompt"), "/team": ("multi-agent", "topic")}


def load_workflow_modules(modules: tuple[str, ...]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"BATON_WORKFLOW_MODULES: cannot import {module!r} ({exc})") from None
