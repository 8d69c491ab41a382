-- A step updates its run's row (counters, updated_at) in the same statement as its journal row.
-- With updated_at a column of runs_unfinished no such update could be HOT: every step wrote a new
-- entry into each of the run's ten indexes. Now no index holds a column a step changes, and pages
-- keep room for the new row version, so a step's update of `runs` stays on its page (issue 14).
DROP INDEX runs_unfinished;
CREATE INDEX runs_unfinished ON runs (status) WHERE status IN ('queued', 'running', 'sleeping', 'waiting');
ALTER TABLE runs SET (fillfactor = 85);

-- The recovery sweep looks for queued fan-out children without a job every 10 s; without this it
-- read every child row ever written.
CREATE INDEX run_children_queued ON run_children (run_id) WHERE status = 'queued';
