-- Jobs queued for later (a suspended run's wake-up for its sleep or its hook's timeout, a hook
-- reminder, a retry's backoff) wait in procrastinate_jobs as 'todo' with a future scheduled_at.
-- Procrastinate's fetch (procrastinate_fetch_job_v2) walks the to-do jobs in (priority DESC, id)
-- order and skips those not yet due, so every fetch read every suspended run's job: 2 ms a fetch
-- with 2,300 suspended runs under the load test, 5-7 ms with the month's 35,000 (issue 14,
-- docs/benchmarks.md). Queued for later at priority -1, they sort after every job that can run
-- now, and a fetch stops at the first ready one. A job moved to now (a decision or a cancel wakes
-- the run: baton_wake_run) is priority 0 again; one that comes due by itself runs as soon as no
-- ready job is ahead of it (a timeout fires at most a backlog late). Baton queues every job at
-- priority 0, so only 0 and -1 are touched.
CREATE FUNCTION baton_jobs_later_last() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'todo' AND NEW.priority IN (0, -1) THEN
        NEW.priority := CASE WHEN NEW.scheduled_at > now() THEN -1 ELSE 0 END;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER baton_jobs_later_last
    BEFORE INSERT OR UPDATE OF scheduled_at, status ON procrastinate_jobs
    FOR EACH ROW EXECUTE FUNCTION baton_jobs_later_last();

-- The jobs already queued for later.
UPDATE procrastinate_jobs SET priority = -1
WHERE status = 'todo' AND scheduled_at > now() AND priority = 0;
