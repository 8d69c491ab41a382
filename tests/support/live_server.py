"""Baton served by uvicorn on a real port, in a thread of the test process.

    with LiveServer(create_app(settings, database_url)) as server:
        httpx.get(server.url + "/healthz")

Used by the `live_server` fixture (tests/browser/conftest.py) and reusable anywhere a real HTTP
server is needed: SSE streaming, browsers, several clients at once.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app, *, host: str = "127.0.0.1", port: int | None = None):
        self.app = app
        self.host = host
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host=host,
            port=self.port,
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=1,
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> LiveServer:
        self._thread = threading.Thread(target=self._run, name="live-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self.server.serve())

    def stop(self) -> None:
        """Shut down as `baton serve` does on SIGTERM: live streams end first, then the server.
        (In the main thread a signal hook does the first part; a server in a thread gets no signal.)"""
        if self._thread is None or not self._thread.is_alive():
            return
        hub = getattr(self.app.state, "hub", None)
        if hub is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(hub.begin_closing)
        self.server.should_exit = True
        self._thread.join(15)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
