"""Upgrading to the one rate limiter (sql/0036): the engine's recent calls keep counting."""

from __future__ import annotations

import shutil

import psycopg

from app.core import ratelimit
from app.core.db import open_pool
from app.core.migrations import apply_migrations
from app.core.paths import SQL_DIR
from app.core.ratelimit import RateLimit

MERGE = "0036_one_rate_limiter.sql"


async def test_the_engine_s_calls_move_into_rate_events_and_still_count(fresh_database, tmp_path):
    url = fresh_database()
    for path in sorted(SQL_DIR.glob("*.sql")):
        if path.name < MERGE:
            shutil.copy(path, tmp_path / path.name)
    apply_migrations(url, sql_dir=tmp_path)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO rate_limits VALUES ('summaries', 2, 60)")
        conn.execute(
            "INSERT INTO rate_limit_calls (name, at) VALUES ('summaries', now() - interval '5 seconds'), "
            "('summaries', now() - interval '2 seconds')"
        )
    shutil.copy(SQL_DIR / MERGE, tmp_path / MERGE)
    assert apply_migrations(url, sql_dir=tmp_path) == [MERGE.removesuffix(".sql")]
    pool = await open_pool(url, min_size=1, max_size=2)
    try:
        async with pool.connection() as conn:
            # Two calls in the last minute under "2 a minute": the next waits ~55 s for the older one.
            wait = await ratelimit.take(conn, ratelimit.calls(RateLimit("summaries", 2, 60)))
            tables = {
                r["tablename"]
                for r in await (
                    await conn.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    )
                ).fetchall()
            }
    finally:
        await pool.close()
    assert 53 < wait <= 55
    assert not tables & {"rate_limits", "rate_limit_calls"}
