-- Queries of bench/load.py: seeding a month's finished runs in batches (issue 14).
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- write_journals --
-- The finished runs' 20 journal rows each as one statement per batch: what write_new_step does per
-- step (app/engine/journal.sql) for a step that is not a model's, set-based. Each row takes its
-- event id from the events' sequence (a completed step's event is its journal row, sql/0097), in
-- run and position order, and the runs' step counters move by what was written. No usage row: only
-- model steps touch it there, and finish_run bills the steps. The run's 'running' event (load_run's)
-- is left out, as the per-run seeding before it did.
WITH rows AS (
    SELECT r.run_id, s.seq
    FROM unnest(%(run_ids)s::uuid[]) WITH ORDINALITY AS r(run_id, n)
    CROSS JOIN generate_series(0, %(steps)s - 1) AS s(seq)
    ORDER BY r.n, s.seq
), step AS (
    INSERT INTO run_steps (run_id, seq, name, kind, status, attempts, output, started_at,
                           completed_at, duration_ms, event_id)
    SELECT run_id, seq, 's' || seq, 'step', 'completed', 1,
           jsonb_build_object('n', seq, 'text', 'a short result of a seeded step'), now(), now(),
           1.5, nextval('run_event_ids')
    FROM rows
    RETURNING run_id
), counted AS (
    SELECT run_id, count(*) AS done FROM step GROUP BY run_id
)
UPDATE runs SET steps_done = runs.steps_done + counted.done, started_at = now()
FROM counted WHERE runs.id = counted.run_id
