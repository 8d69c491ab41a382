-- The audit log of a space (docs/teams.md): who started, cancelled, retried or decided a run, who
-- changed a template, a schedule, a trigger, a connector or a member's role, and when. Written in
-- the transaction of the change it records (app/core/audit.py), read by the space's admins, and
-- pruned under the retention setting like runs' journals.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    space_id    bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    actor_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    actor_email text NOT NULL DEFAULT '',      -- kept when the account is gone; '' for the system
    action      text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),   -- e.g. run.start, member.role
    object_kind text NOT NULL,
    object_id   text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_space_at ON audit_log (space_id, at DESC, id DESC);
CREATE INDEX audit_log_at ON audit_log (at);
