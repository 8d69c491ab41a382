-- Queries of app/engine/jobs.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- wake_run --
-- Queue the run's advance job for `at` (NULL: now), or move its queued one sooner: one job per run (sql/0005).
SELECT baton_wake_run(%(run_id)s, %(at)s)

-- wake_runs --
-- `wake_run` (now) for many runs in one statement: a batch of runs started together.
SELECT baton_wake_run(id, NULL) FROM unnest(%(run_ids)s::uuid[]) AS id

-- cancel_run_jobs --
-- The jobs of a finished run: its pending advance job and its children's; a running child is asked
-- to abort (which cancels its asyncio task).
SELECT procrastinate_cancel_job_v1(id, true, false) FROM procrastinate_jobs
WHERE (status = 'todo' AND queueing_lock = 'run:' || %(run_id)s::text)
   OR (status IN ('todo', 'doing') AND task_name = %(run_child)s AND args->>'run_id' = %(run_id)s::text)

-- abort_advance --
-- A cancel landing while the run advances: abort that job so a long step stops at once.
SELECT procrastinate_cancel_job_v1(id, true, false) FROM procrastinate_jobs
WHERE status = 'doing' AND lock = 'run:' || %(run_id)s::text

-- advance_running --
-- Whether a worker is advancing the run right now (its advance job holds the run's lock).
SELECT EXISTS (SELECT 1 FROM procrastinate_jobs
               WHERE lock = 'run:' || %(run_id)s::text AND status = 'doing') AS running
