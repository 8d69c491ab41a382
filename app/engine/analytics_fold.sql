-- Queries of app/engine/analytics_fold.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- lock_position --
-- Taken before the fold reads any run, in its own statement: a retry's trigger (sql/0133) that
-- committed before this lock is then in the fold's snapshot, and one after it waits for the fold.
SELECT rolled_at, rolled_id FROM analytics_rollup FOR UPDATE SKIP LOCKED

-- fold_batch --
-- The next runs finished for FOLD_AFTER in keyset order (index runs_completed_at), added to the
-- (day, workflow) and (day, owner) rows, and the position moved past them. FOLD_AFTER covers a
-- finishing transaction that commits after its now(): a run it misses is never folded.
WITH batch AS (
    SELECT id, completed_at, (created_at AT TIME ZONE 'UTC')::date AS day, workflow, owner_id, status,
           steps_done, steps_failed, cost_usd, tokens_in + tokens_out AS tokens
    FROM runs
    WHERE completed_at IS NOT NULL AND (completed_at, id) > (%(after_at)s, %(after_id)s)
      AND completed_at < now() - %(fold_after)s::interval
    ORDER BY completed_at, id LIMIT %(limit)s
), days AS (
    INSERT INTO analytics_days AS d (day, workflow, runs, completed, failed, cancelled, steps,
                                     steps_failed, cost_usd, tokens)
    SELECT day, workflow, count(*), count(*) FILTER (WHERE status = 'completed'),
           count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled'),
           sum(steps_done), sum(steps_failed), sum(cost_usd), sum(tokens)
    FROM batch GROUP BY day, workflow
    ON CONFLICT (day, workflow) DO UPDATE SET
        runs = d.runs + EXCLUDED.runs, completed = d.completed + EXCLUDED.completed,
        failed = d.failed + EXCLUDED.failed, cancelled = d.cancelled + EXCLUDED.cancelled,
        steps = d.steps + EXCLUDED.steps, steps_failed = d.steps_failed + EXCLUDED.steps_failed,
        cost_usd = d.cost_usd + EXCLUDED.cost_usd, tokens = d.tokens + EXCLUDED.tokens
), owners AS (
    INSERT INTO analytics_owner_days AS o (day, owner_id, runs, cost_usd, tokens)
    SELECT day, owner_id, count(*), sum(cost_usd), sum(tokens) FROM batch GROUP BY day, owner_id
    ON CONFLICT (day, owner_id) DO UPDATE SET
        runs = o.runs + EXCLUDED.runs, cost_usd = o.cost_usd + EXCLUDED.cost_usd,
        tokens = o.tokens + EXCLUDED.tokens
), last AS (
    SELECT completed_at, id FROM batch ORDER BY completed_at DESC, id DESC LIMIT 1
)
UPDATE analytics_rollup SET rolled_at = last.completed_at, rolled_id = last.id FROM last
RETURNING (SELECT count(*) FROM batch) AS folded
