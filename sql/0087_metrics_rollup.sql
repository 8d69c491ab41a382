-- /metrics without reading every run: finished runs, their steps' durations and their hooks' waits
-- are folded into one row once a run has been finished for a minute (app/web/metrics/store.py), so
-- a scrape reads the runs finished since the last fold (through the index below), not all of them.
CREATE TABLE metrics_rollup (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- keyset position: every run with (completed_at, id) up to here is in `totals`
    rolled_at   timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00+00',
    rolled_id   uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    totals      jsonb NOT NULL DEFAULT '{}'
);
INSERT INTO metrics_rollup DEFAULT VALUES;

-- completed_at is set once, when a run finishes (an update that changes status, never HOT anyway).
CREATE INDEX runs_completed_at ON runs (completed_at, id) WHERE completed_at IS NOT NULL;
