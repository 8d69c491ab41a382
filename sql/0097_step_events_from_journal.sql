-- A completed step's `step_completed` event is read from its journal row instead of being written a
-- second time (issue 14): that row and its two index entries were ~40 % of a step's WAL, and all it
-- said (position, name, duration, a map's item count) is in `run_steps`.
--
-- `run_events` is now a view of a run's events: those written as rows (`run_event_rows`: every other
-- kind, and the step_completed rows written before this migration) and one `step_completed` per
-- journal row that has an `event_id`. Both kinds of id come from one sequence, `run_event_ids`, and
-- the engine draws a step's id under the run's row lock as it does for every other event of the run
-- (app/engine/journal.sql), so a run's events still commit in id order and the API's event stream
-- still resumes by id with nothing skipped or repeated (app/web/api/events.py).
ALTER TABLE run_events RENAME TO run_event_rows;
ALTER SEQUENCE run_events_id_seq RENAME TO run_event_ids;
ALTER TABLE run_steps ADD COLUMN event_id bigint;

CREATE VIEW run_events AS
SELECT id, run_id, owner_id, kind, data, created_at FROM run_event_rows
UNION ALL
SELECT s.event_id, s.run_id, (SELECT r.owner_id FROM runs r WHERE r.id = s.run_id), 'step_completed'::text,
       jsonb_build_object('seq', s.seq, 'name', s.name) || CASE s.kind
           WHEN 'step' THEN jsonb_build_object('duration_ms', round(s.duration_ms::numeric, 2))
           WHEN 'map' THEN jsonb_build_object('total', s.detail->'total')
           ELSE '{}'::jsonb END,
       coalesce(s.completed_at, s.started_at)
FROM run_steps s WHERE s.event_id IS NOT NULL;

ALTER VIEW run_events ALTER COLUMN data SET DEFAULT '{}';
ALTER VIEW run_events ALTER COLUMN created_at SET DEFAULT now();

-- Writing an event through the view stores a row (its id from the shared sequence); the row's
-- trigger announces it as before (sql/0018, sql/0092).
CREATE FUNCTION baton_insert_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO run_event_rows (run_id, owner_id, kind, data, created_at)
    VALUES (NEW.run_id, NEW.owner_id, NEW.kind, coalesce(NEW.data, '{}'), coalesce(NEW.created_at, now()))
    RETURNING id, data, created_at INTO NEW.id, NEW.data, NEW.created_at;
    RETURN NEW;
END $$;
CREATE TRIGGER run_events_insert INSTEAD OF INSERT ON run_events
    FOR EACH ROW EXECUTE FUNCTION baton_insert_run_event();
