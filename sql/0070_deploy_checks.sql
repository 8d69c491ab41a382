-- The last deploy checks (app/engine/deploy_check.py): each worker replays the runs in flight
-- against its code when it starts and records what would break, so /admin can show it without
-- replaying thousands of journals per page view. Only the latest few checks are kept.
CREATE TABLE deploy_checks (
    id bigserial PRIMARY KEY,
    checked_at timestamptz NOT NULL DEFAULT now(),
    checked_by text NOT NULL,
    runs_checked integer NOT NULL,
    runs_at_risk integer NOT NULL,
    -- [{workflow, version, problem, runs}]: every affected workflow version, with its count
    versions jsonb NOT NULL,
    -- the first at-risk runs (capped), each as app/engine/replay_check.Risk.to_json()
    runs jsonb NOT NULL
);
