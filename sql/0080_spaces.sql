-- Spaces: where things live. Every user has a personal space (made with the user, by the trigger
-- below); a team is a space with members and roles (docs/teams.md). Runs, templates, schedules,
-- triggers, connectors and API keys belong to a space. Existing rows go to their owner's personal
-- space, so nothing moves: a user who never joins a team sees exactly what they saw before.
CREATE TABLE spaces (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('personal', 'team')),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    slug        text UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,39}$'),   -- teams only
    personal_of bigint UNIQUE REFERENCES users (id) ON DELETE CASCADE,  -- personal spaces only
    -- A team's plan sets its quotas and limits; a personal space follows its user's tier.
    tier        text REFERENCES tiers (name) ON UPDATE CASCADE,
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'personal') = (personal_of IS NOT NULL)),
    CHECK (kind = 'personal' OR (slug IS NOT NULL AND tier IS NOT NULL))
);

-- Roles, lowest to highest: viewer < member < admin < owner (what each may do: app/core/policy.py).
CREATE TABLE space_members (
    space_id bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role     text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (space_id, user_id)
);
CREATE INDEX space_members_user ON space_members (user_id);

CREATE FUNCTION baton_personal_space() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sid bigint;
BEGIN
    INSERT INTO spaces (kind, name, personal_of, created_by)
    VALUES ('personal', 'Personal', NEW.id, NEW.id) RETURNING id INTO sid;
    INSERT INTO space_members (space_id, user_id, role) VALUES (sid, NEW.id, 'owner');
    RETURN NULL;
END
$$;
CREATE TRIGGER users_personal_space AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION baton_personal_space();

WITH made AS (
    INSERT INTO spaces (kind, name, personal_of, created_by)
    SELECT 'personal', 'Personal', id, id FROM users ORDER BY id
    RETURNING id, personal_of
)
INSERT INTO space_members (space_id, user_id, role) SELECT id, personal_of, 'owner' FROM made;

-- A row inserted without a space goes to its owner's personal space: the private choice is the
-- safe default for any code path that does not name a space.
CREATE FUNCTION baton_default_space() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.space_id IS NULL AND NEW.owner_id IS NOT NULL THEN
        NEW.space_id := (SELECT id FROM spaces WHERE personal_of = NEW.owner_id);
    END IF;
    RETURN NEW;
END
$$;
CREATE FUNCTION baton_default_space_of_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.space_id IS NULL THEN
        NEW.space_id := (SELECT id FROM spaces WHERE personal_of = NEW.user_id);
    END IF;
    RETURN NEW;
END
$$;

ALTER TABLE runs ADD COLUMN space_id bigint REFERENCES spaces (id) ON DELETE CASCADE;
UPDATE runs r SET space_id = s.id FROM spaces s WHERE s.personal_of = r.owner_id;
ALTER TABLE runs ALTER COLUMN space_id SET NOT NULL;
CREATE INDEX runs_space_created ON runs (space_id, created_at DESC);
CREATE INDEX runs_space_status_created ON runs (space_id, status, created_at DESC);
CREATE TRIGGER runs_default_space BEFORE INSERT ON runs
    FOR EACH ROW EXECUTE FUNCTION baton_default_space();

-- Starters (owner_id NULL) belong to no space: they are the instance's gallery.
ALTER TABLE templates ADD COLUMN space_id bigint REFERENCES spaces (id) ON DELETE CASCADE;
UPDATE templates t SET space_id = s.id FROM spaces s WHERE s.personal_of = t.owner_id;
CREATE INDEX templates_space ON templates (space_id, updated_at DESC) WHERE deleted_at IS NULL;
CREATE TRIGGER templates_default_space BEFORE INSERT ON templates
    FOR EACH ROW EXECUTE FUNCTION baton_default_space();

ALTER TABLE schedules ADD COLUMN space_id bigint REFERENCES spaces (id) ON DELETE CASCADE;
UPDATE schedules t SET space_id = s.id FROM spaces s WHERE s.personal_of = t.owner_id;
ALTER TABLE schedules ALTER COLUMN space_id SET NOT NULL;
CREATE INDEX schedules_space ON schedules (space_id, created_at);
CREATE TRIGGER schedules_default_space BEFORE INSERT ON schedules
    FOR EACH ROW EXECUTE FUNCTION baton_default_space();

ALTER TABLE triggers ADD COLUMN space_id bigint REFERENCES spaces (id) ON DELETE CASCADE;
UPDATE triggers t SET space_id = s.id FROM spaces s WHERE s.personal_of = t.owner_id;
ALTER TABLE triggers ALTER COLUMN space_id SET NOT NULL;
CREATE INDEX triggers_space ON triggers (space_id, created_at DESC);
CREATE TRIGGER triggers_default_space BEFORE INSERT ON triggers
    FOR EACH ROW EXECUTE FUNCTION baton_default_space();

ALTER TABLE connectors ADD COLUMN space_id bigint REFERENCES spaces (id) ON DELETE CASCADE;
UPDATE connectors t SET space_id = s.id FROM spaces s WHERE s.personal_of = t.owner_id;
ALTER TABLE connectors ALTER COLUMN space_id SET NOT NULL;
CREATE INDEX connectors_space ON connectors (space_id, name);
CREATE TRIGGER connectors_default_space BEFORE INSERT ON connectors
    FOR EACH ROW EXECUTE FUNCTION baton_default_space();

-- An API key acts in one space, with its creator's role there (checked on every call, so a key of a
-- removed member stops working).
ALTER TABLE api_keys ADD COLUMN space_id bigint REFERENCES spaces (id) ON DELETE CASCADE;
UPDATE api_keys t SET space_id = s.id FROM spaces s WHERE s.personal_of = t.user_id;
ALTER TABLE api_keys ALTER COLUMN space_id SET NOT NULL;
CREATE TRIGGER api_keys_default_space BEFORE INSERT ON api_keys
    FOR EACH ROW EXECUTE FUNCTION baton_default_space_of_user();

-- The space a browser session is working in (the header's switcher); NULL: the personal space.
-- Read together with the membership on every request, so a removed member falls back to personal.
ALTER TABLE sessions ADD COLUMN space_id bigint REFERENCES spaces (id) ON DELETE SET NULL;
