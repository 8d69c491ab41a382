-- A run's live events reach every member of its space who follows it, not only the member who
-- started it: the announcement carries the run's space (app/web/live/hub.py routes by it). One
-- primary-key read of the run's row per event, which the writer has just locked or written.
CREATE OR REPLACE FUNCTION baton_announce_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('baton_events', json_build_object(
        'kind', 'run.' || NEW.kind, 'event_id', NEW.id,
        'run_id', NEW.run_id, 'user_id', NEW.owner_id,
        'space_id', (SELECT space_id FROM runs WHERE id = NEW.run_id))::text);
    RETURN NEW;
END $$;
