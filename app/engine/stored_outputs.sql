-- Queries of app/engine/stored_outputs.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- fetch_outputs --
-- Large outputs a resuming run left in Postgres, fetched together when its code first needs one.
SELECT seq, xmin::text AS version, output
FROM run_steps WHERE run_id = %(run_id)s AND seq = ANY(%(seqs)s)
