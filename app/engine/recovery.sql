-- Queries of app/engine/recovery.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- stalled_jobs --
-- Jobs left `doing` by a worker whose heartbeat stopped: that process died (SIGKILL, OOM, power).
SELECT j.id,
       EXISTS (SELECT 1 FROM procrastinate_jobs o
               WHERE o.queueing_lock = j.queueing_lock AND o.status = 'todo') AS superseded
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.status = 'doing'
  AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => %(stale_s)s))
FOR UPDATE OF j SKIP LOCKED

-- retry_job --
-- A stalled job is retried now (Procrastinate's own retry: attempts and events kept).
SELECT procrastinate_retry_job_v2(%(id)s, now(), NULL, NULL, NULL)

-- drop_job --
-- A newer wake-up for the same run is already queued; this one is redundant.
SELECT procrastinate_finish_job_v1(%(id)s, 'failed', false)

-- release_worker --
-- A worker of this process that stopped without unregistering (its database went away). Deleting
-- its row sets its jobs' worker_id to NULL (ON DELETE SET NULL), which STALLED_JOBS retries at once.
SELECT procrastinate_unregister_worker_v1(%(id)s)

-- orphan_runs --
-- Unfinished runs with no pending or running advance job. A suspended run needs its job only once
-- it is due (until it comes within the wake horizon it has none: the waker queues it, jobs.sql
-- `due_wakeups`), so only due ones are checked: the cost follows the runs that are due, not the
-- tens of thousands that wait for a person. One NOT EXISTS per partial unique index of procrastinate_jobs
-- (a queued job holds the queueing lock, a running one the lock): an OR of the two keys used
-- neither index and made the query quadratic in suspended runs (issue 14).
SELECT r.id, r.status, r.wake_at FROM runs r
WHERE (r.status IN ('queued', 'running')
       OR (r.status IN ('sleeping', 'waiting') AND r.wake_at <= now()))
  AND r.updated_at < now() - make_interval(secs => %(grace_s)s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.queueing_lock = 'run:' || r.id::text AND j.status = 'todo')
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.lock = 'run:' || r.id::text AND j.status = 'doing')
LIMIT 500

-- orphan_children --
-- Queued children of an unfinished run with no pending or running job: their job was lost.
SELECT c.run_id, c.seq, c.idx FROM run_children c JOIN runs r ON r.id = c.run_id
WHERE c.status = 'queued' AND r.status NOT IN ('completed', 'failed', 'cancelled')
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.status IN ('todo', 'doing') AND j.task_name = %(run_child)s
                    AND j.args = jsonb_build_object('run_id', c.run_id::text, 'seq', c.seq, 'idx', c.idx))
LIMIT 500

-- overdue_runs --
-- Runs past their workflow's maximum duration.
SELECT r.id, r.deadline_at - r.created_at AS allowed FROM runs r
WHERE r.status IN ('queued', 'running', 'sleeping', 'waiting') AND r.deadline_at < now() AND NOT r.cancel_requested
LIMIT 100
