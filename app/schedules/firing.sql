-- Queries of app/schedules/firing.py, loaded by app.core.sql_queries when the module is imported.
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

-- lock_schedule --
-- A schedule locked for a fire outside the due path (run now, backfill, a buffered fire).
SELECT s.*, now() AS db_now FROM schedules s WHERE s.id = %(id)s FOR UPDATE

-- insert_fire --
-- The fire's unique key (schedule, fire time): a second attempt at the same fire inserts nothing.
INSERT INTO schedule_fires (schedule_id, fire_at, kind, outcome, run_id, detail)
VALUES (%(schedule_id)s, %(fire_at)s, %(kind)s, %(outcome)s, %(run_id)s, %(detail)s)
ON CONFLICT (schedule_id, fire_at) DO NOTHING
RETURNING schedule_id

-- set_fire_outcome --
-- What became of a fire (its run started, or why not); same transaction as the insert.
UPDATE schedule_fires SET outcome = %(outcome)s, run_id = %(run_id)s, detail = %(detail)s
WHERE schedule_id = %(schedule_id)s AND fire_at = %(fire_at)s

-- link_run --
-- The run remembers the schedule and the fire it was started for (cards, API, CLI).
UPDATE runs SET schedule_id = %(schedule_id)s, fire_at = %(fire_at)s WHERE id = %(run_id)s

-- active_runs --
-- The schedule's runs that have not ended: the overlap policy looks at them.
SELECT id FROM runs
WHERE schedule_id = %(schedule_id)s AND status IN ('queued', 'running', 'sleeping', 'waiting')

-- set_next_fire --
-- The schedule's next fire (NULL: none), and the buffered fire it keeps for buffer-one.
UPDATE schedules SET next_fire_at = %(next_fire_at)s, buffered_fire_at = %(buffered_fire_at)s, updated_at = now()
WHERE id = %(id)s

-- quota_notice_due --
-- True once a month per schedule: the first fire skipped for the quota in a month tells the owner.
UPDATE schedules SET quota_noticed_month = date_trunc('month', now() AT TIME ZONE 'UTC')::date
WHERE id = %(id)s
  AND quota_noticed_month IS DISTINCT FROM date_trunc('month', now() AT TIME ZONE 'UTC')::date
RETURNING id

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

-- insert_fires --
-- `insert_fire` for a batch of due schedules (one fire each): the fires that were not recorded yet.
INSERT INTO schedule_fires (schedule_id, fire_at, kind, outcome)
SELECT * FROM unnest(%(schedule_ids)s::uuid[], %(fire_ats)s::timestamptz[], %(kinds)s::text[], %(outcomes)s::text[])
ON CONFLICT (schedule_id, fire_at) DO NOTHING
RETURNING schedule_id

-- schedules_with_active_runs --
-- `active_runs` for a batch: which of these schedules have a run that has not ended (index runs_schedule).
SELECT DISTINCT schedule_id FROM runs
WHERE schedule_id = ANY(%(schedule_ids)s::uuid[]) AND status IN ('queued', 'running', 'sleeping', 'waiting')

-- set_fire_outcomes --
-- `set_fire_outcome` for a batch of fires, in the transaction that inserted them.
UPDATE schedule_fires f SET outcome = o.outcome, run_id = o.run_id, detail = o.detail
FROM unnest(%(schedule_ids)s::uuid[], %(fire_ats)s::timestamptz[], %(outcomes)s::text[], %(run_ids)s::uuid[],
            %(details)s::text[]) AS o(schedule_id, fire_at, outcome, run_id, detail)
WHERE f.schedule_id = o.schedule_id AND f.fire_at = o.fire_at

-- set_next_fires --
-- `set_next_fire` for a batch of schedules.
UPDATE schedules s SET next_fire_at = n.next_fire_at, buffered_fire_at = n.buffered_fire_at, updated_at = now()
FROM unnest(%(ids)s::uuid[], %(next_fire_ats)s::timestamptz[], %(buffered_fire_ats)s::timestamptz[])
     AS n(id, next_fire_at, buffered_fire_at)
WHERE s.id = n.id

-- quota_notices_due --
-- `quota_notice_due` for a batch: the schedules whose owner has not yet heard this month of a fire
-- skipped for the quota.
UPDATE schedules SET quota_noticed_month = date_trunc('month', now() AT TIME ZONE 'UTC')::date
WHERE id = ANY(%(ids)s::uuid[])
  AND quota_noticed_month IS DISTINCT FROM date_trunc('month', now() AT TIME ZONE 'UTC')::date
RETURNING id, owner_id, name

-- pause_owner_left --
-- A schedule whose owner may no longer start runs in its space (left the team, now a viewer) pauses
-- itself with a note that says so, rather than skip every fire where nobody looks.
UPDATE schedules SET paused = true, paused_note = %(note)s, next_fire_at = NULL, buffered_fire_at = NULL,
                     updated_at = now()
WHERE id = ANY(%(ids)s::uuid[]) AND NOT paused

