"""What worker-side code uses from its process: the settings and the model client.

Step bodies, engine signal callbacks and mail jobs run inside a worker, which has no request to
read settings from. `baton serve` installs its own when it starts the in-process worker; a
`baton worker` process (or any code that finds nothing installed) builds them from the
environment once, on first use:

    ctx = runtime.current()          # ctx.settings, ctx.llm
    previous = runtime.install(Runtime(settings, llm)) ... runtime.install(previous)

One per process, not per task: any worker of the process may advance any run, so they must all
see the same configuration (tests install theirs around the code under test).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from app.core.config import Settings, load_settings
from app.core.llm import LLM


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    llm: LLM


_installed: Runtime | None = None
_lock = threading.Lock()


def install(runtime: Runtime | None) -> Runtime | None:
    """Make `runtime` this process's; returns the one it replaces (to put back later)."""
    global _installed
    with _lock:
        previous, _installed = _installed, runtime
    return previous


def current() -> Runtime:
    global _installed
    with _lock:
        if _installed is None:
            settings = load_settings()
            _installed = Runtime(settings, LLM.from_settings(settings))
        return _installed


def install_for_worker(settings: Settings, llm: LLM | None = None):
    """Install this process's runtime before starting its worker (`baton serve`). Returns an async
    function that puts the previous one back and closes the model client made here."""
    own = llm is None
    model = llm or LLM.from_settings(settings)
    previous = install(Runtime(settings, model))

    async def restore() -> None:
        install(previous)
        if own:
            await model.close()

    return restore
