-- Postgres commits NOTIFYing transactions one at a time (a database-wide lock held through the
-- commit), so announcing every step made all runs' steps queue on each other. A step's completion
-- is now announced by the engine itself, at most every 100 ms per run (app/engine/journal.py);
-- every other event still announces itself, and readers of the event table catch up by id.
DROP TRIGGER run_events_announce ON run_events;
CREATE TRIGGER run_events_announce AFTER INSERT ON run_events
    FOR EACH ROW WHEN (NEW.kind <> 'step_completed') EXECUTE FUNCTION baton_announce_run_event();
