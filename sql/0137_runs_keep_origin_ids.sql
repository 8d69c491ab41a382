-- A run keeps the id of the trigger or schedule that started it, without a foreign key. With
-- `ON DELETE SET NULL`, deleting a trigger or schedule updated every run it started, so the delete
-- waited behind any transaction holding one of those rows (a worker advancing the run) and could
-- hang a user's DELETE for as long as that step took. Readers join the trigger or schedule and treat
-- a missing one as deleted (app/engine/commands.sql `get_run`); a run's `trigger_name` stays as shown.
ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_trigger_id_fkey,
                 DROP CONSTRAINT IF EXISTS runs_schedule_id_fkey;
