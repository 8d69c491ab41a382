"""Importing this module registers every Procrastinate task on `app.core.queue.queue`."""

import worker.maintenance  # noqa: F401
