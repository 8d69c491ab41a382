-- Approvals that reach people (docs/teams.md, "Approvals"): a review or input may be assigned to a
-- person by e-mail (`assignee`, as before), to a role of the run's team (`assigned_role`: any
-- member, any admin, the owners), or left to the run's owner. A review may need `required`
-- approvals from different people; every decision is a row of `hook_decisions`, one per person
-- (unique on the decider), so a person counts once. The hook itself is resolved once: when the
-- last approval needed comes in, or at the first other answer (one rejection rejects).
ALTER TABLE hooks ADD COLUMN assigned_role text CHECK (assigned_role IN ('member', 'admin', 'owner'));
ALTER TABLE hooks ADD COLUMN required int NOT NULL DEFAULT 1 CHECK (required BETWEEN 1 AND 20);
ALTER TABLE hooks ADD CONSTRAINT hooks_one_assignment CHECK (assignee IS NULL OR assigned_role IS NULL);

CREATE TABLE hook_decisions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hook_id    bigint NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
    user_id    bigint REFERENCES users (id) ON DELETE SET NULL,  -- NULL: by link, API-less system
    decided_by text NOT NULL,                                    -- the decider's e-mail (kept)
    action     text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}',
    decided_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (hook_id, decided_by)
);

-- The inbox of a role's members: waiting hooks assigned to a role, by the run's space.
CREATE INDEX hooks_waiting_role ON hooks (run_id) WHERE status = 'waiting' AND assigned_role IS NOT NULL;
