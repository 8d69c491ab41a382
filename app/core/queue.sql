-- Queries of app/core/queue.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- defer --
-- Jobs of one task, one per element of the JSON array `args`, due at `at`, else `after_s` seconds
-- from now, else at once (scheduled_at NULL). Procrastinate's insert trigger wakes a listening
-- worker when the transaction commits.
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args, scheduled_at)
SELECT %(queue)s, %(task)s, 0, a, coalesce(%(at)s::timestamptz, now() + make_interval(secs => %(after_s)s::float))
FROM jsonb_array_elements(%(args)s::jsonb) AS a
