-- Queries of app/schedules/store.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- insert_schedule --
-- A new schedule; its first fire is set by the caller in the same transaction.
INSERT INTO schedules (owner_id, space_id, name, workflow, template_id, input, cron, every_s, time_zone, starts_at, ends_at, overlap,
                       catch_up, catch_up_window_s, pause_after_failures)
VALUES (%(owner_id)s, %(space_id)s, %(name)s, %(workflow)s, %(template_id)s, %(input)s, %(cron)s, %(every_s)s, %(time_zone)s, %(starts_at)s,
        %(ends_at)s, %(overlap)s, %(catch_up)s, %(catch_up_window_s)s, %(pause_after_failures)s)
RETURNING *

-- update_schedule --
-- An edit; the interval restarts from now (anchor) and the next fire is recomputed by the caller.
UPDATE schedules SET name = %(name)s, workflow = %(workflow)s, template_id = %(template_id)s, input = %(input)s, cron = %(cron)s,
                     every_s = %(every_s)s, time_zone = %(time_zone)s, starts_at = %(starts_at)s,
                     ends_at = %(ends_at)s, overlap = %(overlap)s, catch_up = %(catch_up)s,
                     catch_up_window_s = %(catch_up_window_s)s, pause_after_failures = %(pause_after_failures)s,
                     anchor_at = date_trunc('second', now()), updated_at = now()
WHERE id = %(id)s
RETURNING *

-- lock_own_schedule --
-- A schedule locked for a change within its space (or by an operator: space_id NULL).
SELECT s.*, now() AS db_now FROM schedules s
WHERE s.id = %(id)s AND (%(space_id)s::bigint IS NULL OR s.space_id = %(space_id)s)
FOR UPDATE

-- set_next --
-- The schedule's next fire after a change (NULL: none).
UPDATE schedules SET next_fire_at = %(next_fire_at)s, updated_at = now() WHERE id = %(id)s RETURNING *

-- set_paused --
-- Pause (with the person's note; no next fire) or resume (failures in a row start again).
UPDATE schedules SET paused = %(paused)s, paused_note = %(note)s, next_fire_at = %(next_fire_at)s,
                     buffered_fire_at = CASE WHEN %(paused)s THEN NULL ELSE buffered_fire_at END,
                     failures_in_a_row = CASE WHEN %(paused)s THEN failures_in_a_row ELSE 0 END, updated_at = now()
WHERE id = %(id)s
RETURNING *

-- delete_schedule --
-- Gone with its fires; its runs stay, keeping its id (no foreign key, sql/0137: get_run shows it deleted).
DELETE FROM schedules WHERE id = %(id)s AND (%(space_id)s::bigint IS NULL OR space_id = %(space_id)s)
RETURNING id, space_id, name

-- get_schedule --
-- One schedule with its last fire and that fire's run, within a space (space_id NULL: an operator).
SELECT s.*, u.email AS owner_email, f.fire_at AS last_fire_at, f.outcome AS last_outcome, f.run_id AS last_run_id,
       r.status AS last_run_status, t.slug AS template, t.title AS template_title
FROM schedules s
JOIN users u ON u.id = s.owner_id
LEFT JOIN templates t ON t.id = s.template_id
LEFT JOIN LATERAL (SELECT * FROM schedule_fires WHERE schedule_id = s.id ORDER BY fire_at DESC LIMIT 1) f ON true
LEFT JOIN runs r ON r.id = f.run_id
WHERE s.id = %(id)s AND (%(space_id)s::bigint IS NULL OR s.space_id = %(space_id)s)

-- list_schedules --
-- A space's schedules (or everyone's for an operator), each with its last fire and run, by name.
SELECT s.*, u.email AS owner_email, f.fire_at AS last_fire_at, f.outcome AS last_outcome, f.run_id AS last_run_id,
       r.status AS last_run_status, t.slug AS template, t.title AS template_title
FROM schedules s
JOIN users u ON u.id = s.owner_id
LEFT JOIN templates t ON t.id = s.template_id
LEFT JOIN LATERAL (SELECT * FROM schedule_fires WHERE schedule_id = s.id ORDER BY fire_at DESC LIMIT 1) f ON true
LEFT JOIN runs r ON r.id = f.run_id
WHERE %(space_id)s::bigint IS NULL OR s.space_id = %(space_id)s
ORDER BY lower(s.name), s.created_at
LIMIT %(limit)s

-- recent_fires --
-- A schedule's last fires with their runs' results, newest first.
SELECT f.fire_at, f.kind, f.outcome, f.detail, f.run_id, f.created_at, r.status AS run_status, r.title AS run_title,
       r.completed_at AS run_completed_at
FROM schedule_fires f LEFT JOIN runs r ON r.id = f.run_id
WHERE f.schedule_id = %(id)s
ORDER BY f.fire_at DESC
LIMIT %(limit)s

-- owner_zone --
-- The owner's time zone: a schedule's default zone.
SELECT time_zone FROM users WHERE id = %(owner_id)s

-- set_buffered --
-- A backfill under buffer-one left a fire waiting for the running run.
UPDATE schedules SET buffered_fire_at = %(buffered_fire_at)s, updated_at = now() WHERE id = %(id)s

-- personal_space --
-- The user's personal space (a caller that names no space acts there).
SELECT id FROM spaces WHERE personal_of = %(owner_id)s

-- take_over --
-- A team admin takes a schedule over (its owner left the team, or may no longer start runs there):
-- its fires start as the admin from now on. It stays paused until someone resumes it.
UPDATE schedules SET owner_id = %(owner_id)s, updated_at = now() WHERE id = %(id)s RETURNING *
