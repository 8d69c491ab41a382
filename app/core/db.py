"""The connection pool and the few helpers every store uses.

Stores call `pool.connection()` and write plain SQL with bound parameters; rows come back as
dicts (or dataclasses via `class_row`). A connection leaves the pool in autocommit mode, so a
multi-statement change says `async with conn.transaction():` where it needs one.
"""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

# psycopg_pool retries a lost connection 1 s, 2 s, 4 s... apart until `reconnect_timeout`, then
# gives up and the next request starts a fresh attempt. Its default (5 min) lets the gaps grow
# past 60 s in a long outage; a short window keeps them under ~4 s, so the pool is serving again
# within seconds of the database accepting connections (docs/operations.md, database restarts).
RECONNECT_WINDOW_S = 8.0


async def _configure(conn: AsyncConnection) -> None:
    await conn.set_autocommit(True)


async def open_pool(
    url: str, *, min_size: int = 2, max_size: int = 20, name: str = "baton"
) -> AsyncConnectionPool:
    pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row},
        configure=_configure,
        check=AsyncConnectionPool.check_connection,
        open=False,
        name=name,
        reconnect_timeout=RECONNECT_WINDOW_S,
    )
    await pool.open(wait=True, timeout=30)
    return pool
