-- Queries of app/web/analytics/store.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- one_snapshot --
-- The fold's position and the figures are read in one snapshot: a fold or a retry committing in
-- between is seen whole or not at all (first statement of the transaction).
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY

-- rollup_position --
-- Every finished run up to this keyset position is in the rollup (app/engine/analytics_fold.py).
SELECT rolled_at, rolled_id FROM analytics_rollup

-- run_groups --
-- The period's totals, days, workflows and top users. The period's whole UTC days come from the
-- rollup of finished runs (sql/0133) plus, live, their runs the rollup does not hold: unfinished
-- (runs_unfinished_created) and finished after the fold's position (runs_completed_at; the
-- position is a parameter so the planner sees how few runs are past it). The runs of a partial
-- edge day (a period starting or ending mid-day) are read live, whole.
WITH live AS MATERIALIZED (
    SELECT created_at, workflow, owner_id, status, steps_done, steps_failed, cost_usd,
           tokens_in + tokens_out AS tokens
    FROM runs WHERE created_at >= %(start)s AND created_at < %(full_start)s AND created_at < %(end)s
    UNION ALL
    SELECT created_at, workflow, owner_id, status, steps_done, steps_failed, cost_usd,
           tokens_in + tokens_out
    FROM runs WHERE created_at >= %(full_end)s AND created_at >= %(start)s AND created_at < %(end)s
    UNION ALL
    SELECT created_at, workflow, owner_id, status, steps_done, steps_failed, cost_usd,
           tokens_in + tokens_out
    FROM runs WHERE completed_at IS NULL AND created_at >= %(full_start)s AND created_at < %(full_end)s
    UNION ALL
    SELECT r.created_at, r.workflow, r.owner_id, r.status, r.steps_done, r.steps_failed, r.cost_usd,
           r.tokens_in + r.tokens_out
    FROM runs r
    WHERE r.completed_at IS NOT NULL AND (r.completed_at, r.id) > (%(rolled_at)s, %(rolled_id)s)
      AND r.created_at >= %(full_start)s AND r.created_at < %(full_end)s
), facts AS (
    SELECT day, workflow, runs, completed, failed, cancelled, steps, steps_failed, cost_usd, tokens
    FROM analytics_days WHERE day >= %(first_day)s AND day < %(end_day)s
    UNION ALL
    SELECT (created_at AT TIME ZONE 'UTC')::date, workflow, 1, (status = 'completed')::int,
           (status = 'failed')::int, (status = 'cancelled')::int, steps_done, steps_failed, cost_usd,
           tokens
    FROM live
), owners AS (
    SELECT owner_id, sum(runs)::bigint AS runs, sum(cost_usd) AS cost_usd, sum(tokens) AS tokens
    FROM (SELECT owner_id, runs, cost_usd, tokens FROM analytics_owner_days
          WHERE day >= %(first_day)s AND day < %(end_day)s
          UNION ALL
          SELECT owner_id, 1, cost_usd, tokens FROM live) o
    GROUP BY owner_id
)
(SELECT CASE GROUPING(day, workflow) WHEN 3 THEN 'total' WHEN 1 THEN 'day' ELSE 'workflow' END AS g,
        day, workflow, NULL::bigint AS owner_id, NULL::bigint AS users,
        coalesce(sum(runs), 0)::bigint AS runs, coalesce(sum(completed), 0)::bigint AS completed,
        coalesce(sum(failed), 0)::bigint AS failed, coalesce(sum(cancelled), 0)::bigint AS cancelled,
        coalesce(sum(steps), 0)::bigint AS steps, coalesce(sum(steps_failed), 0)::bigint AS steps_failed,
        coalesce(sum(cost_usd), 0) AS cost_usd, coalesce(sum(tokens), 0) AS tokens
 FROM facts GROUP BY GROUPING SETS ((), (day), (workflow)))
UNION ALL
(SELECT 'owner', NULL, NULL, owner_id, count(*) OVER (), runs, NULL, NULL, NULL, NULL, NULL, cost_usd,
        tokens
 FROM owners ORDER BY cost_usd DESC, runs DESC, owner_id LIMIT 10)
