-- Queries of app/web/runs/rerun.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- step_value --
-- One journaled value of one of the space's runs (a step's arguments or output), for download.
SELECT s.seq, s.name, s.detail->'args' AS args, s.output
FROM run_steps s JOIN runs r ON r.id = s.run_id
WHERE s.run_id = %(run_id)s AND s.seq = %(seq)s AND r.space_id = %(space_id)s AND s.kind NOT IN ('now', 'uuid')

-- source_title --
-- The run a rerun was made from, named on the rerun's page (if it is still there and in the reader's space).
SELECT id, title FROM runs WHERE id = %(id)s AND space_id = %(space_id)s
