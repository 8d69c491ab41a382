-- The quota's count of a space's runs per calendar month (UTC), kept up to date by the start command
-- in the start's own transaction (app/engine/commands.sql `insert_runs`, under the space's lock taken
-- by app/engine/quotas.py `lock_spaces`), so a start reads one row instead of counting the space's
-- runs this month (which made 10,000 starts in one space cost O(n²)). Operator checks (selftest)
-- are not counted, as before. Runs later removed by retention stay counted: the quota is of starts.
CREATE TABLE space_month_runs (
    space_id bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    month    date NOT NULL,
    runs     int NOT NULL DEFAULT 0,
    PRIMARY KEY (space_id, month)
);

-- This month's count so far, from the runs themselves (what the quota counted until now). The only
-- operator workflow is selftest (app/workflows/selftest.py, `operator=True`).
INSERT INTO space_month_runs (space_id, month, runs)
SELECT space_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, count(*)
FROM runs
WHERE workflow <> 'selftest'
  AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
GROUP BY space_id;
