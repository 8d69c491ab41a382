from litestar import Response, get
from litestar.di import NamedDependency
from psycopg_pool import AsyncConnectionPool

from app.core.migrations import discover

HEALTH = """
SELECT
  (SELECT count(*) FROM baton_migrations) AS migrations_applied,
  (SELECT max(last_heartbeat) > now() - interval '30 seconds' FROM procrastinate_workers) AS worker_seen
"""


@get("/healthz", include_in_schema=False)
async def healthz(pool: NamedDependency[AsyncConnectionPool]) -> Response[dict]:
    """Database reachable, migrations current, a worker heartbeat seen in the last 30 s."""
    expected = len(discover())
    try:
        async with pool.connection(timeout=5) as conn:
            row = await (await conn.execute(HEALTH)).fetchone()
    except Exception as exc:
        body = {"ok": False, "database": False, "error": type(exc).__name__}
        return Response(body, status_code=503)
    body = {
        "ok": row["migrations_applied"] == expected and bool(row["worker_seen"]),
        "database": True,
        "migrations_current": row["migrations_applied"] == expected,
        "worker": bool(row["worker_seen"]),
    }
    return Response(body, status_code=200 if body["database"] and body["migrations_current"] else 503)
