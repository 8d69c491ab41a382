-- A schedule's target is a built-in workflow or a template (app/templates): exactly one. Deleting the
-- template deletes its schedules (a schedule with no target could never fire).
ALTER TABLE schedules ADD COLUMN template_id bigint REFERENCES templates (id) ON DELETE CASCADE;
ALTER TABLE schedules DROP CONSTRAINT schedules_target;
ALTER TABLE schedules ADD CONSTRAINT schedules_target CHECK ((workflow IS NULL) <> (template_id IS NULL));
