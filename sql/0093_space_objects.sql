-- Templates and connectors are named within their space, not their owner: a team's members share
-- one namespace of template slugs and connector names (two members cannot both have a "blog"
-- connector in the team, and a member's personal "blog" does not clash with the team's). Existing
-- rows are each in their owner's personal space, so nothing that was unique stops being unique.
DROP INDEX templates_owner_slug;
CREATE UNIQUE INDEX templates_space_slug ON templates (coalesce(space_id, 0), slug) WHERE deleted_at IS NULL;

ALTER TABLE connectors DROP CONSTRAINT connectors_owner_id_name_key;
ALTER TABLE connectors ADD CONSTRAINT connectors_space_name_key UNIQUE (space_id, name);
DROP INDEX connectors_space;  -- the unique constraint's index serves (space_id, name)

-- A schedule's fire whose owner may no longer start runs in the schedule's space (removed from the
-- team, or now a viewer) is recorded as skipped with the reason, like a fire over the quota.
ALTER TABLE schedule_fires DROP CONSTRAINT schedule_fires_outcome_check;
ALTER TABLE schedule_fires ADD CONSTRAINT schedule_fires_outcome_check
    CHECK (outcome IN ('started', 'buffered', 'skipped: overlap', 'skipped: quota', 'skipped: buffer full',
                       'skipped: no access', 'failed'));
