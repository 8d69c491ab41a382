-- Queries of app/engine/advance.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- cancel_flag --
-- Whether the run was asked to cancel, and why: read at each step boundary that has no write of its own.
SELECT cancel_requested, cancel_reason FROM runs WHERE id = %(run_id)s

-- cancel_open_hooks --
-- A finished run's open approvals stop being actionable (their links say so).
UPDATE hooks SET status = 'cancelled' WHERE run_id = %(run_id)s AND status = 'waiting'

-- cancel_open_children --
-- A finished run's fan-out children that have not finished will not run.
UPDATE run_children SET status = 'cancelled' WHERE run_id = %(run_id)s AND status IN ('pending', 'queued')
