"""Callbacks other areas attach to engine moments (mail on a waiting hook, a notification when a
run ends). Each is awaited inside the engine's own transaction with its connection, so whatever
it queues commits, or rolls back, with the state change that caused it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from psycopg import AsyncConnection

from app.engine.rows import HookRow, StartedRun

HookCallback = Callable[[AsyncConnection, HookRow], Awaitable[None]]
RunCallback = Callable[[AsyncConnection, StartedRun], Awaitable[None]]

hook_waiting: list[HookCallback] = []  # once a hook starts waiting
hook_reminder: list[HookCallback] = []  # at remind_before the expiry
run_finished: list[RunCallback] = []  # once completed, failed or cancelled


async def emit(callbacks: list[Any], conn: AsyncConnection, row: HookRow | StartedRun) -> None:
    for callback in callbacks:
        await callback(conn, row)
