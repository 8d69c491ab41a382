-- Queries of app/schedules/jobs.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- claim_due --
-- The next due schedules (up to `batch`) no other process is firing, locked until their fires commit; the index
-- schedules_due makes this cost one index probe however many schedules are not due.
-- `skip`: schedules whose fire failed unexpectedly in this job, so one broken schedule cannot hold
-- back the others (the sweep brings it back later). Among schedules due at the same moment, a space's
-- come together, so that concurrent jobs claim batches of different spaces and fire them in parallel
-- instead of queueing on each other's space locks.
SELECT s.*, now() AS db_now FROM schedules s
WHERE s.next_fire_at <= now() AND NOT (s.id = ANY(%(skip)s::uuid[]))
ORDER BY s.next_fire_at, s.space_id
LIMIT %(batch)s
FOR UPDATE SKIP LOCKED

-- count_due --
-- How many schedules are due now (up to a cap): enough to decide whether to call in helpers.
SELECT count(*) AS n FROM (SELECT 1 FROM schedules WHERE next_fire_at <= now() LIMIT %(cap)s) d

-- run_ended --
-- Failures in a row: a failed run adds one, a completed run starts again from zero (cancelled
-- runs, often the schedule's own doing, count neither way).
UPDATE schedules SET failures_in_a_row = CASE WHEN %(failed)s THEN failures_in_a_row + 1 ELSE 0 END,
                     updated_at = now()
WHERE id = %(id)s
RETURNING *

-- pause_for_failures --
-- Paused by the schedule itself after too many failed runs in a row; the note says why.
UPDATE schedules SET paused = true, paused_note = %(note)s, next_fire_at = NULL, buffered_fire_at = NULL,
                     updated_at = now()
WHERE id = %(id)s AND NOT paused

-- overdue_schedules --
-- The recovery sweep: the earliest schedule left due past a grace (its wake-up job was lost, or
-- its worker died mid-fire). One index probe, however many schedules there are.
SELECT min(next_fire_at) AS due FROM schedules WHERE next_fire_at < now() - make_interval(secs => %(grace_s)s)

-- prune_fires --
-- Fires older than the retention period, a batch at a time (their runs are pruned by then too).
DELETE FROM schedule_fires WHERE ctid IN (
    SELECT ctid FROM schedule_fires WHERE created_at < now() - make_interval(days => %(days)s) LIMIT %(limit)s)
