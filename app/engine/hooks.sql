-- Queries of app/engine/hooks.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- insert_hook --
-- A new approval (its token is the link's secret); returned whole for the caller's notice.
INSERT INTO hooks (run_id, seq, owner_id, token, name, kind, actions, show, assignee, secret, expires_at, remind_at)
VALUES (%(run_id)s, %(seq)s, %(owner_id)s, %(token)s, %(name)s, %(kind)s, %(actions)s, %(show)s,
        %(assignee)s, %(secret)s, %(expires_at)s, %(remind_at)s)
RETURNING *

-- expire_hook --
-- An approval that timed out, unless it was decided meanwhile.
UPDATE hooks SET status = 'expired' WHERE id = %(id)s AND status = 'waiting' RETURNING id

-- journal_entry --
-- A hook step's journal row, to replay its decision.
SELECT status, output FROM run_steps WHERE run_id = %(run_id)s AND seq = %(seq)s

-- lock_hook --
-- A decision locks the hook and its run (cancel and retry take the run's row too), so it is decided once.
SELECT h.*, r.status AS run_status, r.cancel_requested FROM hooks h JOIN runs r ON r.id = h.run_id
WHERE h.token = %(token)s FOR UPDATE OF h, r

-- decide_hook --
-- Records the decision on the hook.
UPDATE hooks SET status = 'resolved', action = %(action)s, response = %(data)s,
                 decided_by = %(decided_by)s, decided_at = %(decided_at)s
WHERE id = %(id)s

-- complete_hook_step --
-- The hook's step completes with the decision as its output, outside any advance.
UPDATE run_steps SET status = 'completed', output = %(output)s, completed_at = now(), attempts = 1,
                     duration_ms = extract(epoch FROM now() - started_at) * 1000
WHERE run_id = %(run_id)s AND seq = %(seq)s AND status = 'waiting'

-- queue_run --
-- A decided hook requeues its run (if it was waiting), counts and bills its step, with an event.
-- The usage CTE is usage_monthly SQL (all of it is indexed in app/engine/quotas.py).
WITH upd AS (
    UPDATE runs SET status = CASE WHEN status = 'waiting' THEN 'queued' ELSE status END,
                    waiting_for = NULL, wake_at = NULL, updated_at = now(),
                    steps_done = steps_done + 1, steps_billed = steps_billed + 1
    WHERE id = %(run_id)s RETURNING id, owner_id
), usage AS (
    INSERT INTO usage_monthly AS u (user_id, month, steps)
    SELECT owner_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 1 FROM upd
    ON CONFLICT (user_id, month) DO UPDATE SET steps = u.steps + 1
)
INSERT INTO run_events (run_id, owner_id, kind, data)
SELECT id, owner_id, 'hook_resolved', %(event)s FROM upd

-- get_hook --
-- One hook (for its reminder job).
SELECT * FROM hooks WHERE id = %(id)s
