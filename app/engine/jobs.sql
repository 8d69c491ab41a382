-- Queries of app/engine/jobs.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- wake_run --
-- Queue the run's advance job for `at` (NULL: now), or move its queued one sooner: one job per run (sql/0005).
-- A wake-up beyond the horizon is only recorded on the run (runs.wake_at, written by the caller):
-- `due_wakeups` queues it once it comes within the horizon. Procrastinate's fetch walks every
-- future job it skips, so tens of thousands of far-off wake-ups as jobs slowed every fetch (issue 14).
SELECT baton_wake_run(%(run_id)s, %(at)s)
WHERE %(at)s::timestamptz IS NULL OR %(at)s::timestamptz <= now() + make_interval(secs => %(horizon_s)s)

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

-- due_wakeups --
-- The waker: queue, for its exact time, the advance job of each suspended run due within the
-- horizon that has none queued or running. An index range of runs_wake_at and one probe of each
-- partial unique index of procrastinate_jobs per run found: the cost follows the runs due within
-- the horizon, never the suspended runs in all. Idempotent (baton_wake_run keeps one job per run).
SELECT count(baton_wake_run(d.id, d.wake_at)) AS queued
FROM (SELECT r.id, r.wake_at FROM runs r
      WHERE r.status IN ('sleeping', 'waiting')
        AND r.wake_at <= now() + make_interval(secs => %(horizon_s)s)
        AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                        WHERE j.queueing_lock = 'run:' || r.id::text AND j.status = 'todo')
        AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                        WHERE j.lock = 'run:' || r.id::text AND j.status = 'doing')
      ORDER BY r.wake_at
      LIMIT 1000) d

-- due_reminders --
-- The waker, for hook reminders: waiting hooks whose reminder falls within the horizon and has no
-- job waiting (its queueing lock). Index hooks_reminder_due (sql/0110) keeps it to the due ones.
SELECT h.id, h.remind_at FROM hooks h
WHERE h.status = 'waiting' AND h.reminded_at IS NULL
  AND h.remind_at <= now() + make_interval(secs => %(horizon_s)s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.queueing_lock = 'hook-reminder:' || h.id::text AND j.status = 'todo')
ORDER BY h.remind_at
LIMIT 1000
