"""What every request handler can reach: settings and the pool, kept on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.datastructures import State
from psycopg_pool import AsyncConnectionPool

from app.core.config import Settings


@dataclass
class Services:
    settings: Settings
    pool: AsyncConnectionPool


def services(state: State) -> Services:
    return state.services


async def provide_pool(state: State) -> AsyncConnectionPool:
    return state.services.pool


async def provide_settings(state: State) -> Settings:
    return state.services.settings
