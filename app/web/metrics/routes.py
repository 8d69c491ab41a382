"""GET /metrics in Prometheus text format, for the bearer of BATON_METRICS_TOKEN or localhost."""

from __future__ import annotations

import hmac

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.response import Template
from psycopg_pool import AsyncConnectionPool

from app.core.config import Settings
from app.web.metrics.store import HOOK_BUCKETS, STEP_BUCKETS, snapshot

STATUSES = ("queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled")
LOCAL = {"127.0.0.1", "::1"}


def _allowed(request: Request, settings: Settings) -> bool:
    auth = request.headers.get("authorization", "")
    if settings.metrics_token and auth.startswith("Bearer "):
        return hmac.compare_digest(auth[7:].strip(), settings.metrics_token)
    return request.client is not None and request.client.host in LOCAL


@get("/metrics", include_in_schema=False)
async def metrics(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Template:
    if not _allowed(request, settings):
        raise NotFoundException()  # nothing to see here for anyone else
    async with pool.connection() as conn:
        snap = await snapshot(conn)
    return Template(
        "metrics/prometheus.txt",
        context={
            "snap": snap,
            "statuses": STATUSES,
            "step_buckets": [
                (b, snap["step_durations"][f"le_{i}"]) for i, b in enumerate(STEP_BUCKETS)
            ],
            "hook_buckets": [
                (b, snap["hook_waits"][f"le_{i}"]) for i, b in enumerate(HOOK_BUCKETS)
            ],
        },
        media_type="text/plain; version=0.0.4",
    )
