"""Importing this module registers every Procrastinate task and every workflow."""

import app.engine.tasks  # noqa: F401
import app.templates.interpreter  # noqa: F401  (the template workflow)
import app.workflows.catalog  # noqa: F401
