from litestar import Request, Response, get
from litestar.di import NamedDependency
from psycopg_pool import AsyncConnectionPool

from app.core.migrations import discover

HEALTH = """
SELECT
  (SELECT count(*) FROM baton_migrations) AS migrations_applied,
  (SELECT max(last_heartbeat) > now() - interval '30 seconds' FROM procrastinate_workers) AS worker_seen
"""


@get("/healthz", include_in_schema=False)
async def healthz(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Response[dict]:
    """Database reachable, migrations current, a worker heartbeat seen in the last 30 s.

    503 when the database is unreachable, the schema is behind, or this process runs a worker
    (`baton serve` without --no-worker) that is not running: Docker's HEALTHCHECK, orchestrators
    and load balancers read the status code. A web-only process answers 200 without a worker
    (workers may run elsewhere, or not yet)."""
    expected = len(discover())
    supervisor = getattr(request.app.state, "worker", None)  # set by the lifespan (app/web/app.py)
    problem = supervisor.problem if supervisor else None
    try:
        # Already unhealthy: answer within a probe's usual 1-2 s timeout rather than wait for the pool.
        async with pool.connection(timeout=1 if problem else 5) as conn:
            row = await (await conn.execute(HEALTH)).fetchone()
    except Exception as exc:
        body = {"ok": False, "database": False, "error": type(exc).__name__}
        if problem:
            body["worker_error"] = problem
        return Response(body, status_code=503)
    current = row["migrations_applied"] == expected
    body = {
        "ok": current and bool(row["worker_seen"]) and not problem,
        "database": True,
        "migrations_current": current,
        "worker": bool(row["worker_seen"]) and not problem,
    }
    if problem:
        body["worker_error"] = problem
    return Response(body, status_code=200 if current and not problem else 503)
