"""Callbacks other areas attach to engine moments (mail on a waiting hook, a notification when a
run ends). Each is awaited inside the engine's own transaction with its connection, so whatever
it queues commits, or rolls back, with the state change that caused it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from psycopg import AsyncConnection

Callback = Callable[[AsyncConnection, dict[str, Any]], Awaitable[None]]

hook_waiting: list[Callback] = []  # (conn, hook row) once a hook starts waiting
hook_reminder: list[Callback] = []  # (conn, hook row) at remind_before the expiry
run_finished: list[Callback] = []  # (conn, run row) once completed, failed or cancelled


async def emit(callbacks: list[Callback], conn: AsyncConnection, row: dict[str, Any]) -> None:
    for callback in callbacks:
        await callback(conn, row)
