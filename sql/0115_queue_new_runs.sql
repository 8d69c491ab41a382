-- The first advance jobs of runs just inserted, in one statement (app/engine/commands.sql
-- `insert_runs`). `baton_wake_run` (sql/0005) queues one run's job, moving an existing one earlier
-- if there is one; that needs a subtransaction per run (its EXCEPTION block), which made a batch of
-- 200 fires spend as long queueing jobs as inserting runs. A run inserted in the same statement has
-- no job yet, so its job is inserted plainly, exactly as `baton_wake_run` would insert it (queue
-- 'baton', task baton.advance_run, lock and queueing lock 'run:<id>', due now).
CREATE FUNCTION baton_queue_new_runs(p_runs uuid[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
    SELECT 'baton', 'baton.advance_run', 0, 'run:' || r, 'run:' || r, jsonb_build_object('run_id', r), NULL
    FROM unnest(p_runs) AS r
$$;
