-- Wake-ups further than the horizon (BATON_WAKE_HORIZON, 5 minutes) are no longer queued as jobs:
-- Procrastinate's fetch walks every job scheduled for later, 5-7 ms a fetch with 35,000 sleeping and
-- waiting runs (issue 14). The runs' and hooks' own rows keep the time; each worker's waker queues
-- the job once it is within the horizon (app/engine/jobs.py).

-- The waker's probe for hook reminders due soon (runs use runs_wake_at, sql/0005).
CREATE INDEX hooks_reminder_due ON hooks (remind_at)
    WHERE status = 'waiting' AND reminded_at IS NULL AND remind_at IS NOT NULL;

-- Far-off jobs queued before this change: the waker queues them again, at the same time, when due
-- within the horizon. Only those whose run or hook still holds that time are removed.
DELETE FROM procrastinate_jobs j
USING runs r
WHERE j.status = 'todo' AND j.task_name = 'baton.advance_run'
  AND j.queueing_lock = 'run:' || r.id::text
  AND r.status IN ('sleeping', 'waiting') AND r.wake_at IS NOT NULL
  AND j.scheduled_at >= r.wake_at AND j.scheduled_at > now() + interval '5 minutes';

DELETE FROM procrastinate_jobs j
USING hooks h
WHERE j.status = 'todo' AND j.task_name = 'baton.hook_reminder'
  AND j.args = jsonb_build_object('hook_id', h.id)
  AND h.status = 'waiting' AND h.reminded_at IS NULL AND h.remind_at IS NOT NULL
  AND j.scheduled_at >= h.remind_at AND j.scheduled_at > now() + interval '5 minutes';
