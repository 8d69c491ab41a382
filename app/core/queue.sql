-- Queries of app/core/queue.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- defer --
-- Jobs of one task, one per element of the JSON array `args`, due at `at`, else `after_s` seconds
-- from now, else at once (scheduled_at NULL). Procrastinate's insert trigger wakes a listening
-- worker when the transaction commits.
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args, scheduled_at)
SELECT %(queue)s, %(task)s, 0, a, coalesce(%(at)s::timestamptz, now() + make_interval(secs => %(after_s)s::float))
FROM jsonb_array_elements(%(args)s::jsonb) AS a

-- defer_once --
-- One job under a queueing lock, unless a job with that lock is still 'todo' (the unique index
-- procrastinate_jobs_queueing_lock_idx_v1 covers only 'todo' jobs, hence its predicate here).
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args, scheduled_at, queueing_lock)
VALUES (%(queue)s, %(task)s, 0, %(args)s, %(at)s, %(lock)s)
ON CONFLICT (queueing_lock) WHERE status = 'todo' DO NOTHING
