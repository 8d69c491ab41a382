"""Waiting in tests: poll a condition until it holds or a deadline passes, never a fixed sleep.

    row = await wait_for(lambda: hook_row(pool, run_id), timeout=10, what="the review hook")

The predicate may be a plain function or return an awaitable; its first truthy value is returned.
Past the deadline an AssertionError names what was awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    *,
    what: str = "the condition",
    interval: float = 0.02,
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        await asyncio.sleep(interval)
