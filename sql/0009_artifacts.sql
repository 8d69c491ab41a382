-- Files a run produced (final documents, their PDFs), kept in Postgres with everything else.
-- Owned by app/web/artifacts (reads, downloads) and app/steps/artifacts.py (writes, from a run's
-- transaction so that a replayed run never stores a file twice).
CREATE TABLE artifacts (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    run_id       uuid REFERENCES runs (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    content_type text NOT NULL,
    size         int NOT NULL CHECK (size >= 0),
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, name)
);
CREATE INDEX artifacts_owner_created ON artifacts (owner_id, created_at DESC);
