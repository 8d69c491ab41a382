-- A trigger starts either a built-in workflow or a template (app/templates): the template's current
-- version at each delivery, as a person starting it by hand would get.
ALTER TABLE triggers ALTER COLUMN workflow DROP NOT NULL,
                     ADD COLUMN template_id bigint REFERENCES templates (id) ON DELETE CASCADE,
                     ADD CONSTRAINT triggers_one_target CHECK ((workflow IS NULL) <> (template_id IS NULL));
CREATE INDEX triggers_template ON triggers (template_id) WHERE template_id IS NOT NULL;
