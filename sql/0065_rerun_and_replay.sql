-- Rerun from a step and bulk replay (docs/engine.md, "Rerun and replay").
-- A rerun is a new run that starts with a copy of the first journal rows of another run of the
-- same owner: `rerun_of` names that run, `rerun_from` says from where ({"seq", "step",
-- "edited_output", "edited_input", "replay_id"}). The original is never changed; deleting it
-- leaves its reruns standing.
ALTER TABLE runs ADD COLUMN rerun_of uuid REFERENCES runs (id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN rerun_from jsonb;
CREATE INDEX runs_rerun_of ON runs (rerun_of) WHERE rerun_of IS NOT NULL;

-- A bulk replay: the runs a filter selected, replayed as new runs a few at a time (paced by
-- app/engine/replays.py so that it never holds more than a share of the workers).
CREATE TABLE replays (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    requested_by bigint REFERENCES users (id) ON DELETE SET NULL,  -- NULL: the operator's CLI
    owner_id     bigint REFERENCES users (id) ON DELETE CASCADE,   -- whose runs; NULL: every owner's (CLI)
    workflow     text NOT NULL,
    statuses     text[] NOT NULL,
    since        timestamptz,
    until        timestamptz,
    from_step    text NOT NULL CHECK (from_step IN ('start', 'failed')),
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'cancelled')),
    total        int NOT NULL,
    tick         int NOT NULL DEFAULT 0,    -- the one pacing job that may act (older ones exit)
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX replays_requested_by ON replays (requested_by, created_at DESC);

CREATE TABLE replay_items (
    replay_id  bigint NOT NULL REFERENCES replays (id) ON DELETE CASCADE,
    position   int NOT NULL,
    source_id  uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    owner_id   bigint NOT NULL,
    state      text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'started', 'refused', 'skipped')),
    new_run_id uuid REFERENCES runs (id) ON DELETE SET NULL,
    message    text,
    PRIMARY KEY (replay_id, position)
);
CREATE INDEX replay_items_pending ON replay_items (replay_id, position) WHERE state = 'pending';
CREATE INDEX replay_items_new_run ON replay_items (new_run_id) WHERE new_run_id IS NOT NULL;
