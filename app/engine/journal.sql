-- Queries of app/engine/journal.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- load_run --
-- Loads the run, marks it running and returns its journal (what this worker did not keep), in one round trip.
WITH old AS (
    SELECT id, status FROM runs WHERE id = %(run_id)s FOR UPDATE
), upd AS (
    UPDATE runs r SET status = 'running', started_at = coalesce(r.started_at, now()), updated_at = now()
    FROM old
    WHERE r.id = old.id AND old.status IN ('queued', 'running', 'sleeping', 'waiting') AND NOT r.cancel_requested
    RETURNING r.id
), ev AS (
    INSERT INTO run_event_rows (run_id, owner_id, kind, data)
    SELECT r.id, r.owner_id, 'status', '{"status": "running"}'
    FROM runs r JOIN old ON old.id = r.id JOIN upd ON upd.id = r.id
    WHERE old.status <> 'running'
)
-- The journal comes as one array per field (a few Python lists, not an object per position: on a
-- long journal the garbage collector's passes over those had cost as much as the query). Names and
-- kinds come for every position: the determinism check reads them all. Outputs stored larger than
-- %(lazy_bytes)s come as NULL, their positions and row versions apart (`journal_stored_*`): the run
-- fetches them only if its code reaches them (app/engine/stored_outputs.py). Status, attempts,
-- errors and wake times come only for positions not completed (`journal_open`): most are. An
-- object or array output comes as its JSON text, its position in `journal_encoded`: decoded at each
-- use, so workflow code that mutates a value cannot change what a later replay sees, and the
-- journal can be kept between advances (app/engine/journal_cache.py).
-- A worker that kept the first %(known)s positions of this run at journal version
-- %(known_version)s is sent only the positions after them, unless the journal was rewritten since
-- (sql/0116); `journal_from` says from where the positions were sent.
SELECT r.*, (SELECT count(*) FROM upd) = 1 AS advancing, f.journal_from, j.*,
       (SELECT coalesce(jsonb_agg(to_jsonb(h)), '[]') FROM hooks h
         WHERE h.run_id = r.id AND h.status = 'waiting') AS waiting_hooks
FROM runs r CROSS JOIN LATERAL (
    SELECT CASE WHEN r.journal_version = %(known_version)s THEN %(known)s::int ELSE 0 END AS journal_from
) f CROSS JOIN LATERAL (
    -- One plain aggregate over the positions in order (no GROUP BY, so nothing re-sorts them), of
    -- only the columns it reads: `SELECT *` here had carried every column (arguments, times) along.
    SELECT coalesce(array_agg(s.seq), '{}') AS journal_seqs,
           coalesce(array_agg(s.name), '{}') AS journal_names,
           coalesce(array_agg(s.kind), '{}') AS journal_kinds,
           coalesce(json_agg(CASE WHEN s.large THEN NULL WHEN s.encoded THEN to_jsonb(s.output::text)
                                  ELSE s.output END), '[]') AS journal_outputs,
           coalesce(array_agg(s.seq) FILTER (WHERE s.encoded AND NOT s.large), '{}') AS journal_encoded,
           coalesce(array_agg(s.seq) FILTER (WHERE s.large), '{}') AS journal_stored_seqs,
           coalesce(array_agg(s.xmin::text) FILTER (WHERE s.large), '{}') AS journal_stored_versions,
           coalesce(json_agg(json_build_array(s.seq, s.status, s.attempts, s.error, s.wake_at))
                    FILTER (WHERE s.status <> 'completed'), '[]') AS journal_open
    FROM (SELECT seq, name, kind, status, attempts, output, error, wake_at, xmin,
                 coalesce(pg_column_size(output) > %(lazy_bytes)s, false) AS large,
                 -- (jsonb_typeof reads the whole value: not of the large ones, left in TOAST)
                 CASE WHEN pg_column_size(output) > %(lazy_bytes)s THEN false
                      ELSE coalesce(jsonb_typeof(output) IN ('object', 'array'), false) END AS encoded
          FROM run_steps WHERE run_id = r.id AND seq >= f.journal_from ORDER BY seq) s
) j
WHERE r.id = %(run_id)s

-- write_step --
-- A finished step: its journal row, its event and the run's counters, in one statement.
-- The usage CTE is usage_monthly SQL (all of it is indexed in app/engine/quotas.py): a model
-- step's tokens and cost, once, when its row is written. Only model steps touch the owner's usage
-- row here: they are slow, so no queue forms on it.
WITH cost AS (
    -- A model step's cost from the price table, unless the step reported its own.
    SELECT coalesce(%(cost_usd)s::numeric,
                    (SELECT coalesce(%(tokens_in)s, 0) / 1000.0 * input_per_1k
                            + coalesce(%(tokens_out)s, 0) / 1000.0 * output_per_1k
                     FROM model_prices WHERE model = %(model)s),
                    CASE WHEN %(model)s::text IS NULL THEN NULL ELSE 0 END) AS usd
), r AS (
    -- The run's row first: its lock comes before the step's event takes its id, so a run's events
    -- commit in id order (the API's event stream resumes by id; see INSERT_EVENT). A failed step
    -- counts once: not when its position was already final (a second writer's late write).
    UPDATE runs SET steps_done = steps_done + %(done)s,
                    steps_failed = steps_failed + CASE WHEN %(status)s = 'failed' AND NOT EXISTS (
                        SELECT 1 FROM run_steps WHERE run_id = %(run_id)s AND seq = %(seq)s
                                                  AND status IN ('completed', 'failed')) THEN 1 ELSE 0 END,
                    tokens_in = tokens_in + coalesce(%(tokens_in)s, 0),
                    tokens_out = tokens_out + coalesce(%(tokens_out)s, 0),
                    cost_usd = cost_usd + coalesce((SELECT usd FROM cost), 0),
                    -- At most once a second: a new time in the middle of the row made every step's
                    -- update ~50 B more WAL; the stuck-run gauge and the sweep read it in seconds.
                    updated_at = CASE WHEN updated_at < now() - interval '1 second' THEN now() ELSE updated_at END
    WHERE id = %(run_id)s
    RETURNING cancel_requested, space_id
), step AS (
    -- A completed step's event is its journal row (the run_events view, sql/0097): the row takes
    -- the event's id from the events' sequence, and no second row is written.
    INSERT INTO run_steps (run_id, seq, name, kind, status, attempts, output, error, detail, wake_at,
                           started_at, completed_at, duration_ms, model, tokens_in, tokens_out, cost_usd,
                           event_id)
    SELECT %(run_id)s, %(seq)s, %(name)s, %(kind)s, %(status)s, %(attempts)s, %(output)s, %(error)s,
           %(detail)s, %(wake_at)s, coalesce(%(started_at)s, now()), %(completed_at)s, %(duration_ms)s,
           %(model)s, %(tokens_in)s, %(tokens_out)s, (SELECT usd FROM cost),
           CASE WHEN %(event)s = 'step_completed' THEN nextval('run_event_ids') END
    FROM r
    ON CONFLICT (run_id, seq) DO UPDATE SET
        status = EXCLUDED.status, attempts = EXCLUDED.attempts, output = EXCLUDED.output,
        error = EXCLUDED.error, detail = coalesce(EXCLUDED.detail, run_steps.detail),
        wake_at = EXCLUDED.wake_at, completed_at = EXCLUDED.completed_at,
        duration_ms = EXCLUDED.duration_ms, model = EXCLUDED.model, tokens_in = EXCLUDED.tokens_in,
        tokens_out = EXCLUDED.tokens_out, cost_usd = EXCLUDED.cost_usd, event_id = EXCLUDED.event_id
    WHERE run_steps.status NOT IN ('completed', 'failed')
    RETURNING seq, event_id
), ev AS (
    -- Every other kind of step event is a row (the table behind the run_events view).
    INSERT INTO run_event_rows (run_id, owner_id, kind, data)
    SELECT %(run_id)s, %(owner_id)s, %(event)s, %(event_data)s FROM step
    WHERE %(event)s <> 'step_completed'
), announce AS (
    -- step_completed is announced by the caller's choice (at most every 100 ms per run), never by
    -- a trigger: it has no row. With the run's space, so every member following it sees it (sql/0092).
    SELECT pg_notify('baton_events', json_build_object(
        'kind', 'run.step_completed', 'event_id', step.event_id, 'run_id', %(run_id)s::text,
        'user_id', %(owner_id)s, 'space_id', r.space_id)::text)
    FROM step, r WHERE step.event_id IS NOT NULL AND %(announce)s
), usage AS (
    INSERT INTO usage_monthly AS u (user_id, month, tokens_in, tokens_out, cost_usd)
    SELECT %(owner_id)s, date_trunc('month', now() AT TIME ZONE 'UTC')::date,
           coalesce(%(tokens_in)s, 0), coalesce(%(tokens_out)s, 0), coalesce((SELECT usd FROM cost), 0)
    FROM step WHERE %(model)s::text IS NOT NULL
    ON CONFLICT (user_id, month) DO UPDATE SET
        tokens_in = u.tokens_in + EXCLUDED.tokens_in,
        tokens_out = u.tokens_out + EXCLUDED.tokens_out, cost_usd = u.cost_usd + EXCLUDED.cost_usd
)
SELECT (SELECT count(*) FROM step) AS written, (SELECT cancel_requested FROM r) AS cancel_requested,
       (SELECT count(*) FROM announce) AS announced

-- write_new_step --
-- write_step's common case: a step (not a model's) at a position the journal does not hold yet,
-- written outside a transaction. A plain INSERT: ON CONFLICT's speculative insertion cost 48 B of
-- WAL per step (issue 14). A row already there (a second writer of the position) makes it fail
-- with unique_violation, and the caller writes with write_step instead, which decides as before.
WITH r AS (
    -- The run's row first, as in write_step (its lock before the event's id).
    UPDATE runs SET steps_done = steps_done + %(done)s,
                    steps_failed = steps_failed + CASE WHEN %(status)s = 'failed' THEN 1 ELSE 0 END,
                    updated_at = CASE WHEN updated_at < now() - interval '1 second' THEN now() ELSE updated_at END
    WHERE id = %(run_id)s
    RETURNING cancel_requested, space_id
), step AS (
    INSERT INTO run_steps (run_id, seq, name, kind, status, attempts, output, error, detail,
                           started_at, completed_at, duration_ms, event_id)
    SELECT %(run_id)s, %(seq)s, %(name)s, %(kind)s, %(status)s, %(attempts)s, %(output)s, %(error)s,
           %(detail)s, coalesce(%(started_at)s, now()), %(completed_at)s, %(duration_ms)s,
           CASE WHEN %(event)s = 'step_completed' THEN nextval('run_event_ids') END
    FROM r
    RETURNING seq, event_id
), ev AS (
    INSERT INTO run_event_rows (run_id, owner_id, kind, data)
    SELECT %(run_id)s, %(owner_id)s, %(event)s, %(event_data)s FROM step
    WHERE %(event)s <> 'step_completed'
), announce AS (
    SELECT pg_notify('baton_events', json_build_object(
        'kind', 'run.step_completed', 'event_id', step.event_id, 'run_id', %(run_id)s::text,
        'user_id', %(owner_id)s, 'space_id', r.space_id)::text)
    FROM step, r WHERE step.event_id IS NOT NULL AND %(announce)s
)
SELECT (SELECT count(*) FROM step) AS written, (SELECT cancel_requested FROM r) AS cancel_requested,
       (SELECT count(*) FROM announce) AS announced

-- write_value --
-- Journaled values (run.now, run.uuid) are buffered and written ahead of the next durable write.
-- Returns the position if this statement wrote it (the worker keeps what it wrote: journal_cache.py).
INSERT INTO run_steps (run_id, seq, name, kind, status, attempts, output, completed_at)
VALUES (%(run_id)s, %(seq)s, %(name)s, %(kind)s, 'completed', 1, %(output)s, now())
ON CONFLICT (run_id, seq) DO NOTHING
RETURNING seq

-- suspend_run --
-- A suspended run: its status, what it waits for and when it is due. Returns the cancel flag so
-- that a cancel landing during this advance wins over the suspension.
-- The usage CTE is usage_monthly SQL (all of it is indexed in app/engine/quotas.py): the run's
-- not yet billed steps, added when `upd` (steps_billed = steps_done) changed the run; `unbilled`
-- reads the row as it was before the statement's own update.
WITH upd AS (
    UPDATE runs SET status = %(status)s, waiting_for = %(waiting_for)s, wake_at = %(wake_at)s,
                    updated_at = now(), steps_billed = steps_done
    WHERE id = %(run_id)s
    RETURNING id, owner_id, cancel_requested
), unbilled AS (
    SELECT owner_id, steps_done - steps_billed AS steps FROM runs WHERE id = %(run_id)s
), usage AS (
    INSERT INTO usage_monthly AS u (user_id, month, steps)
    SELECT owner_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, steps FROM unbilled
    WHERE steps > 0 AND EXISTS (SELECT 1 FROM upd)
    ON CONFLICT (user_id, month) DO UPDATE SET steps = u.steps + EXCLUDED.steps
), ev AS (
    INSERT INTO run_event_rows (run_id, owner_id, kind, data)
    SELECT id, owner_id, 'status', jsonb_build_object('status', %(status)s::text, 'waiting_for', %(waiting_for)s::text,
                                                     'wake_at', %(wake_at)s::timestamptz)
    FROM upd WHERE %(announce)s
)
SELECT cancel_requested FROM upd

-- finish_run --
-- A run's final state, once (a finished run is never reopened), billing its steps, with its status event.
-- The usage CTE is usage_monthly SQL (all of it is indexed in app/engine/quotas.py): the run's
-- not yet billed steps, added when `upd` (steps_billed = steps_done) changed the run; `unbilled`
-- reads the row as it was before the statement's own update.
WITH upd AS (
    UPDATE runs SET status = %(status)s, output = %(output)s, error = %(error)s, waiting_for = NULL,
                    wake_at = NULL, completed_at = now(), updated_at = now(),
                    progress = CASE WHEN %(status)s = 'completed' AND progress IS NOT NULL
                                    THEN progress - 'rate_wait' || jsonb_build_object('done', progress->'total', 'percent', 100)
                                    ELSE progress - 'rate_wait' END,
                    steps_billed = steps_done
    WHERE id = %(run_id)s AND status NOT IN ('completed', 'failed', 'cancelled')
    RETURNING *
), unbilled AS (
    SELECT owner_id, steps_done - steps_billed AS steps FROM runs WHERE id = %(run_id)s
), usage AS (
    INSERT INTO usage_monthly AS u (user_id, month, steps)
    SELECT owner_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, steps FROM unbilled
    WHERE steps > 0 AND EXISTS (SELECT 1 FROM upd)
    ON CONFLICT (user_id, month) DO UPDATE SET steps = u.steps + EXCLUDED.steps
), ev AS (
    INSERT INTO run_event_rows (run_id, owner_id, kind, data)
    SELECT id, owner_id, 'status', jsonb_build_object('status', status, 'error', error) FROM upd
)
-- The columns of app/engine/rows.py `StartedRun` (every column of runs): the `run_finished` signal's row.
SELECT id, owner_id, chat_id, workflow, version, title, status, input, output, error, idempotency_key,
       waiting_for, wake_at, progress, cancel_requested, steps_done, tokens_in, tokens_out, cost_usd,
       created_at, started_at, updated_at, completed_at, deadline_at, cancel_reason, journal_pruned_at,
       steps_failed, steps_billed, template_id, template_version, schedule_id, fire_at, trigger_id,
       trigger_name, rerun_of, rerun_from, space_id
FROM upd

-- insert_event --
-- Every run event is inserted under the run's row lock (here explicitly; elsewhere by the UPDATE
-- of the run the insert reads from), so a run's events commit in the order of their ids: a reader
-- that has seen id N never sees a smaller id of that run appear later (the API's event stream
-- resumes from the last id it sent).
INSERT INTO run_event_rows (run_id, owner_id, kind, data)
SELECT %(run_id)s, %(owner_id)s, %(kind)s, %(data)s
WHERE EXISTS (SELECT 1 FROM runs WHERE id = %(run_id)s FOR NO KEY UPDATE)

-- update_progress --
-- The run's progress, shown live; returns the cancel flag (a long step reporting progress is a cancellation point).
-- The overall percent never goes down over a run (app/engine/progress.py): the new one or the highest shown.
WITH upd AS (
    UPDATE runs SET progress = %(progress)s || jsonb_build_object('percent', greatest(
                        %(percent)s::numeric, coalesce((progress->>'percent')::numeric, 0))),
                    updated_at = now()
    WHERE id = %(run_id)s
    RETURNING id, owner_id, cancel_requested, progress
), ev AS (
    INSERT INTO run_event_rows (run_id, owner_id, kind, data) SELECT id, owner_id, 'progress', progress FROM upd
)
SELECT cancel_requested FROM upd
