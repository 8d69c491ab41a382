-- Queries of app/engine/deploy_check.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- in_flight_runs --
-- Every unfinished run with its journal as compact arrays (one row per run, read through a
-- server-side cursor in batches); a map's child function path is all of a step's detail it needs.
-- A template run names its pinned template version (replayed from its journal like any workflow).
SELECT r.id, r.workflow, r.version, r.status, r.owner_id, u.email AS owner_email, r.chat_id, r.input,
       r.template_id, r.template_version,
       (SELECT coalesce(json_agg(json_build_array(s.seq, s.name, s.kind, s.status, s.output, s.error,
                                                  CASE WHEN s.kind = 'map' THEN s.detail->>'fn' END) ORDER BY s.seq), '[]')
          FROM run_steps s WHERE s.run_id = r.id) AS journal
FROM runs r LEFT JOIN users u ON u.id = r.owner_id
WHERE r.status IN ('queued', 'running', 'sleeping', 'waiting')

-- record_check --
-- The check's result for /admin; older checks beyond the last few are dropped in the same statement.
WITH added AS (
    INSERT INTO deploy_checks (checked_by, runs_checked, runs_at_risk, versions, runs)
    VALUES (%(checked_by)s, %(runs_checked)s, %(runs_at_risk)s, %(versions)s, %(runs)s)
    RETURNING id
)
DELETE FROM deploy_checks WHERE id <= (SELECT id FROM added) - %(keep)s

-- last_check --
-- The most recent check, shown on /admin.
SELECT * FROM deploy_checks ORDER BY id DESC LIMIT 1
