-- A builder's "Test run" runs the editor's draft without saving it as a version: the exact document the
-- run started with is kept here, one row per test run (the interpreter loads it, so a resumed run loads
-- the same document; it is never listed as a version). A rerun of a test run reads the nearest row up its
-- rerun_of chain.
CREATE TABLE template_test_runs (
    run_id      uuid PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    template_id bigint REFERENCES templates (id) ON DELETE SET NULL,  -- NULL: a template never saved
    document    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
