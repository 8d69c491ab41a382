"""The connection pool and the few helpers every store uses.

Stores call `pool.connection()` and write plain SQL with bound parameters; rows come back as
dicts (or dataclasses via `class_row`). A connection leaves the pool in autocommit mode, so a
multi-statement change says `async with conn.transaction():` where it needs one.
"""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


async def _configure(conn: AsyncConnection) -> None:
    await conn.set_autocommit(True)


async def open_pool(url: str, *, min_size: int = 2, max_size: int = 20, name: str = "baton") -> AsyncConnectionPool:
    pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row},
        configure=_configure,
        check=AsyncConnectionPool.check_connection,
        open=False,
        name=name,
    )
    await pool.open(wait=True, timeout=30)
    return pool
