"""Which PostgreSQL a command talks to: DATABASE_URL, or the embedded server under the data dir."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.core.config import Settings
from app.core.embedded_pg import DataDirInUse, EmbeddedPostgres


@contextmanager
def database_url(settings: Settings, *, own: bool = False) -> Iterator[str]:
    """Yield a URL. With `own=True` (serve) this process must start and own the embedded server;
    otherwise it joins one that another Baton process is running on the same data dir."""
    if settings.database_url:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.data_dir)
    try:
        url = server.start()
    except DataDirInUse:
        running = None if own else server.running_url()
        if not running:
            raise
        yield running
        return
    try:
        yield url
    finally:
        server.stop()
