"""Publishing steps: connectors (store), schedule (the table a run reads), clients (HTTP).

The step bodies here read the connector and its secret from the database themselves (the worker's
pool), so the secret never passes through a step's arguments or the journal.
"""

from __future__ import annotations

from app.core.queue import worker_pool
from app.core.secrets_box import secret_box
from app.engine.errors import FatalError
from app.steps.publishers import clients
from app.steps.publishers.connectors import Connector, load_connector


async def _connector(owner_id: int, connector_id: int | None, run_id: str) -> Connector:
    """The connector with its secret, only if it is in the run's space (checked at every use)."""
    pool = worker_pool.get()
    if pool is None:
        raise RuntimeError("publishing steps run inside a worker")
    if connector_id is None:
        raise FatalError(
            "the connector of this schedule was deleted; add it again on Settings → Connectors"
        )
    async with pool.connection() as conn:
        connector = await load_connector(conn, secret_box(), owner_id, connector_id, run_id=run_id)
    if connector is None:
        raise FatalError(
            "the connector of this schedule was deleted; add it again on Settings → Connectors"
        )
    return connector


async def publish_post(
    owner_id: int, connector_id: int | None, post: dict, idempotency_key: str, run_id: str
) -> dict:
    connector = await _connector(owner_id, connector_id, run_id)
    return await clients.publish(connector, post, idempotency_key=idempotency_key, run_id=run_id)


async def fetch_metrics(
    owner_id: int, connector_id: int | None, posts: list[dict], run_id: str
) -> dict:
    connector = await _connector(owner_id, connector_id, run_id)
    return await clients.fetch_metrics(connector, posts, run_id=run_id)
