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

from app.engine import quotas

# Loads the run, marks it running and returns its whole journal, in one round trip.
LOAD_RUN = """
WITH old AS (
    SELECT id, status FROM runs WHERE id = %(run_id)s FOR UPDATE
), upd AS (
    UPDATE runs r SET status = 'running', started_at = coalesce(r.started_at, now()), updated_at = now()
    FROM old
    WHERE r.id = old.id AND old.status IN ('queued', 'running', 'sleeping', 'waiting') AND NOT r.cancel_requested
    RETURNING r.id
), ev AS (
    INSERT INTO run_events (run_id, owner_id, kind, data)
    SELECT r.id, r.owner_id, 'status', '{"status": "running"}'
    FROM runs r JOIN old ON old.id = r.id JOIN upd ON upd.id = r.id
    WHERE old.status <> 'running'
)
SELECT r.*, (SELECT count(*) FROM upd) = 1 AS advancing,
       (SELECT coalesce(json_agg(json_build_array(s.seq, s.name, s.kind, s.status, s.attempts, s.output,
                                                  s.error, s.wake_at) ORDER BY s.seq), '[]')
          FROM run_steps s WHERE s.run_id = r.id) AS journal,
       (SELECT coalesce(jsonb_agg(to_jsonb(h)), '[]') FROM hooks h
         WHERE h.run_id = r.id AND h.status = 'waiting') AS waiting_hooks
FROM runs r WHERE r.id = %(run_id)s
"""

# The journal comes back as compact arrays (building a JSON object per row costs ~6x more on a
# long journal); these are their fields, in order.
JOURNAL_FIELDS = ("seq", "name", "kind", "status", "attempts", "output", "error", "wake_at")

WRITE_STEP = """
WITH cost AS (
    -- A model step's cost from the price table, unless the step reported its own.
    SELECT coalesce(%(cost_usd)s::numeric,
                    (SELECT coalesce(%(tokens_in)s, 0) / 1000.0 * input_per_1k
                            + coalesce(%(tokens_out)s, 0) / 1000.0 * output_per_1k
                     FROM model_prices WHERE model = %(model)s),
                    CASE WHEN %(model)s::text IS NULL THEN NULL ELSE 0 END) AS usd
), step AS (
    INSERT INTO run_steps (run_id, seq, name, kind, status, attempts, output, error, detail, wake_at,
                           started_at, completed_at, duration_ms, model, tokens_in, tokens_out, cost_usd)
    VALUES (%(run_id)s, %(seq)s, %(name)s, %(kind)s, %(status)s, %(attempts)s, %(output)s, %(error)s,
            %(detail)s, %(wake_at)s, coalesce(%(started_at)s, now()), %(completed_at)s, %(duration_ms)s,
            %(model)s, %(tokens_in)s, %(tokens_out)s, (SELECT usd FROM cost))
    ON CONFLICT (run_id, seq) DO UPDATE SET
        status = EXCLUDED.status, attempts = EXCLUDED.attempts, output = EXCLUDED.output,
        error = EXCLUDED.error, detail = coalesce(EXCLUDED.detail, run_steps.detail),
        wake_at = EXCLUDED.wake_at, completed_at = EXCLUDED.completed_at,
        duration_ms = EXCLUDED.duration_ms, model = EXCLUDED.model, tokens_in = EXCLUDED.tokens_in,
        tokens_out = EXCLUDED.tokens_out, cost_usd = EXCLUDED.cost_usd
    WHERE run_steps.status NOT IN ('completed', 'failed')
    RETURNING seq
), r AS (
    UPDATE runs SET steps_done = steps_done + %(done)s,
                    steps_failed = steps_failed + CASE WHEN %(status)s = 'failed' AND (SELECT count(*) FROM step) = 1
                                                       THEN 1 ELSE 0 END,
                    tokens_in = tokens_in + coalesce(%(tokens_in)s, 0),
                    tokens_out = tokens_out + coalesce(%(tokens_out)s, 0),
                    cost_usd = cost_usd + coalesce((SELECT usd FROM cost), 0),
                    updated_at = now()
    WHERE id = %(run_id)s
    RETURNING cancel_requested
), ev AS (
    -- Reading `r` makes the run's row lock come before the event takes its id, so a run's events
    -- commit in id order (the API's event stream resumes by id; see INSERT_EVENT).
    INSERT INTO run_events (run_id, owner_id, kind, data)
    SELECT %(run_id)s, %(owner_id)s, %(event)s, %(event_data)s FROM step, r
    RETURNING id
), announce AS (
    -- step_completed is not announced by the table's trigger (see sql/0018): the caller decides.
    SELECT pg_notify('baton_events', json_build_object(
        'kind', 'run.step_completed', 'event_id', ev.id, 'run_id', %(run_id)s::text, 'user_id', %(owner_id)s)::text)
    FROM ev WHERE %(event)s = 'step_completed' AND %(announce)s
), """ + quotas.ADD_MODEL_USAGE + """
SELECT (SELECT count(*) FROM step) AS written, (SELECT cancel_requested FROM r) AS cancel_requested,
       (SELECT count(*) FROM announce) AS announced
"""

# Journaled values (run.now, run.uuid) are buffered and written ahead of the next durable write.
WRITE_VALUE = """
INSERT INTO run_steps (run_id, seq, name, kind, status, attempts, output, completed_at)
VALUES (%(run_id)s, %(seq)s, %(name)s, %(kind)s, 'completed', 1, %(output)s, now())
ON CONFLICT (run_id, seq) DO NOTHING
"""

# A suspended run: its status, what it waits for and when it is due. Returns the cancel flag so
# that a cancel landing during this advance wins over the suspension.
SUSPEND_RUN = """
WITH upd AS (
    UPDATE runs SET status = %(status)s, waiting_for = %(waiting_for)s, wake_at = %(wake_at)s,
                    updated_at = now(), steps_billed = steps_done
    WHERE id = %(run_id)s
    RETURNING id, owner_id, cancel_requested
), """ + quotas.BILL_STEPS + """, ev AS (
    INSERT INTO run_events (run_id, owner_id, kind, data)
    SELECT id, owner_id, 'status', jsonb_build_object('status', %(status)s::text, 'waiting_for', %(waiting_for)s::text,
                                                     'wake_at', %(wake_at)s::timestamptz)
    FROM upd WHERE %(announce)s
)
SELECT cancel_requested FROM upd
"""

FINISH_RUN = """
WITH upd AS (
    UPDATE runs SET status = %(status)s, output = %(output)s, error = %(error)s, waiting_for = NULL,
                    wake_at = NULL, completed_at = now(), updated_at = now(),
                    progress = CASE WHEN %(status)s = 'completed' AND progress IS NOT NULL
                                    THEN progress - 'rate_wait' || jsonb_build_object('done', progress->'total', 'percent', 100)
                                    ELSE progress - 'rate_wait' END,
                    steps_billed = steps_done
    WHERE id = %(run_id)s AND status NOT IN ('completed', 'failed', 'cancelled')
    RETURNING *
), """ + quotas.BILL_STEPS + """, ev AS (
    INSERT INTO run_events (run_id, owner_id, kind, data)
    SELECT id, owner_id, 'status', jsonb_build_object('status', status, 'error', error) FROM upd
)
SELECT * FROM upd
"""

# Every run event is inserted under the run's row lock (here explicitly; elsewhere by the UPDATE
# of the run the insert reads from), so a run's events commit in the order of their ids: a reader
# that has seen id N never sees a smaller id of that run appear later (the API's event stream
# resumes from the last id it sent).
INSERT_EVENT = """
INSERT INTO run_events (run_id, owner_id, kind, data)
SELECT %(run_id)s, %(owner_id)s, %(kind)s, %(data)s
WHERE EXISTS (SELECT 1 FROM runs WHERE id = %(run_id)s FOR NO KEY UPDATE)
"""

# The overall percent never goes down over a run (app/engine/progress.py): the new one or the highest shown.
UPDATE_PROGRESS = """
WITH upd AS (
    UPDATE runs SET progress = %(progress)s || jsonb_build_object('percent', greatest(
                        %(percent)s::numeric, coalesce((progress->>'percent')::numeric, 0))),
                    updated_at = now()
    WHERE id = %(run_id)s
    RETURNING id, owner_id, cancel_requested, progress
), ev AS (
    INSERT INTO run_events (run_id, owner_id, kind, data) SELECT id, owner_id, 'progress', progress FROM upd
)
SELECT cancel_requested FROM upd
"""


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
