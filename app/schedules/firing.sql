-- Queries of app/schedules/firing.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

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

-- pause_owner_left --
-- A schedule whose owner may no longer start runs in its space (left the team, now a viewer) pauses
-- itself with a note that says so, rather than skip every fire where nobody looks.
UPDATE schedules SET paused = true, paused_note = %(note)s, next_fire_at = NULL, buffered_fire_at = NULL,
                     updated_at = now()
WHERE id = ANY(%(ids)s::uuid[]) AND NOT paused
