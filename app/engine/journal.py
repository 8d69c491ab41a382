"""SQL of the step journal and the run row, as the advancing run uses it.

Writing a finished step is one statement (one round trip, one commit): the journal row, its event
and the run's counters, returning whether the run was asked to cancel meanwhile — which makes every
step boundary a cancellation point at no extra cost.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
LOAD_RUN = SQL["load_run"]

WRITE_STEP = SQL["write_step"]
WRITE_VALUE = SQL["write_value"]
SUSPEND_RUN = SQL["suspend_run"]
FINISH_RUN = SQL["finish_run"]
INSERT_EVENT = SQL["insert_event"]
UPDATE_PROGRESS = SQL["update_progress"]


def to_json(value: Any) -> Any:
    """The value as it will come back from the journal (tuples become lists, and so on).
    Raises TypeError for values JSON cannot hold."""
    return json.loads(json.dumps(value))


def jsonb(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


async def write_step(conn: AsyncConnection, **fields: Any) -> dict:
    params = {
        "output": None, "error": None, "detail": None, "wake_at": None, "started_at": None,
        "attempts": 0, "completed_at": None, "duration_ms": None, "model": None, "tokens_in": None,
        "tokens_out": None, "cost_usd": None, "done": 0, "event_data": {}, "announce": True,
    } | fields
    for key in ("output", "error", "detail", "event_data"):
        params[key] = jsonb(params[key]) if key != "event_data" else Jsonb(params[key])
    return await (await conn.execute(WRITE_STEP, params)).fetchone()
