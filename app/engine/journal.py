"""SQL of the step journal and the run row, as the advancing run uses it.

Writing a finished step is one statement (one round trip, one commit): the journal row, its event
and the run's counters, returning whether the run was asked to cancel meanwhile — which makes every
step boundary a cancellation point at no extra cost. A completed step's event is its journal row
(`event_id`; the `run_events` view, sql/0097), not a second row.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
LOAD_RUN = SQL["load_run"]

WRITE_STEP = SQL["write_step"]
WRITE_NEW_STEP = SQL["write_new_step"]
WRITE_VALUE = SQL["write_value"]
SUSPEND_RUN = SQL["suspend_run"]
FINISH_RUN = SQL["finish_run"]
INSERT_EVENT = SQL["insert_event"]
UPDATE_PROGRESS = SQL["update_progress"]

# Characters of a step's arguments kept in its journal row (`detail.args`): what the run page shows
# to read what the step was given, never a second copy of a large document.
ARGS_LIMIT = 2000


def to_json(value: Any) -> Any:
    """The value as it will come back from the journal (tuples become lists, and so on).
    Raises TypeError for values JSON cannot hold."""
    return json.loads(json.dumps(value))


def step_args(args: tuple, kwargs: dict) -> dict | None:
    """A step's arguments as its journal row keeps them (`detail`): `{"args": [...], "kwargs": {...}}`,
    or `{"truncated": true, "size": n, "preview": "..."}` past ARGS_LIMIT characters. Values JSON
    cannot hold are shown as their str(); this is for reading, replay never uses it."""
    if not args and not kwargs:
        return None
    text = json.dumps(
        {"args": list(args), **({"kwargs": kwargs} if kwargs else {})},
        default=str,
        ensure_ascii=False,
    )
    if len(text) > ARGS_LIMIT:
        return {"args": {"truncated": True, "size": len(text), "preview": text[:ARGS_LIMIT]}}
    return {"args": json.loads(text)}


def jsonb(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


async def write_step(conn: AsyncConnection, *, new: bool = False, **fields: Any) -> dict:
    """Write a journal position. `new`: the journal held nothing there when the run was loaded;
    outside a transaction such a step (without model usage) is a plain INSERT (WRITE_NEW_STEP),
    and should a row be there after all (a second writer), the upsert decides as it always did."""
    params = {
        "output": None,
        "error": None,
        "detail": None,
        "wake_at": None,
        "started_at": None,
        "attempts": 0,
        "completed_at": None,
        "duration_ms": None,
        "model": None,
        "tokens_in": None,
        "tokens_out": None,
        "cost_usd": None,
        "done": 0,
        "event_data": {},
        "announce": True,
    } | fields
    for key in ("output", "error", "detail", "event_data"):
        params[key] = jsonb(params[key]) if key != "event_data" else Jsonb(params[key])
    plain = all(params[k] is None for k in ("model", "tokens_in", "tokens_out", "cost_usd"))
    if new and plain and conn.info.transaction_status == TransactionStatus.IDLE:
        try:
            return await (await conn.execute(WRITE_NEW_STEP, params)).fetchone()
        except UniqueViolation:
            pass  # autocommit: the failed statement changed nothing
    return await (await conn.execute(WRITE_STEP, params)).fetchone()
