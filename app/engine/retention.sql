-- Queries of app/engine/retention.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- prune_batch --
-- In batches, so a first prune of a large backlog never holds long locks.
WITH batch AS (
    SELECT id FROM runs
    WHERE completed_at < now() - make_interval(days => %(days)s) AND journal_pruned_at IS NULL
    ORDER BY completed_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), steps AS (
    DELETE FROM run_steps WHERE run_id IN (SELECT id FROM batch)
), events AS (
    DELETE FROM run_event_rows WHERE run_id IN (SELECT id FROM batch)
)
UPDATE runs SET journal_pruned_at = now() WHERE id IN (SELECT id FROM batch)

-- prune_jobs --
-- Finished queue jobs (cancelled wake-ups, superseded or failed jobs; successful ones are deleted
-- at once) are only history: nothing in Baton reads them (/metrics and recovery read 'todo' and
-- 'doing' jobs; a run's failure is on the run). Procrastinate's fetch scans the whole table, so keep
-- only a day of them, for debugging.
DELETE FROM procrastinate_jobs j
WHERE j.status IN ('succeeded', 'failed', 'cancelled', 'aborted')
  AND NOT EXISTS (SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id AND e.at > now() - interval '1 day')

-- prune_audit --
-- The audit log is kept as long as runs' journals (the retention setting), in batches for the
-- same reason; index audit_log_at finds the oldest entries.
DELETE FROM audit_log WHERE id IN (
    SELECT id FROM audit_log WHERE at < now() - make_interval(days => %(days)s)
    ORDER BY at LIMIT %(limit)s
)

-- prune_invitations --
-- Team invitations that stopped being usable (used, revoked or replaced, expired) longer ago than the
-- retention setting: until then their link still says which it was; after, it is "not valid".
DELETE FROM space_invitations WHERE id IN (
    SELECT id FROM space_invitations
    WHERE coalesce(accepted_at, revoked_at, expires_at) < now() - make_interval(days => %(days)s)
    ORDER BY coalesce(accepted_at, revoked_at, expires_at) LIMIT %(limit)s
)
