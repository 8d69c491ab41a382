-- One rate limiter for the web and the engine (app/core/ratelimit.py). The engine's named limits
-- (`rate_limits`, `rate_limit_calls`, from 0005) become buckets `calls:<name>` of `rate_events`,
-- counted by the same function as chat messages, API calls and login attempts.

-- Seconds until `p_bucket` may count another event under "at most p_limit per p_window"; 0 means
-- now, and with p_record the event is counted in the same call. An advisory lock per bucket makes
-- check-and-count atomic across every process. clock_timestamp(), not now(): a caller inside a
-- longer transaction (or one that waited for the lock) counts at the moment it really took its slot.
-- Events stay an hour past their window: a short history of what a limit let through (the engine's
-- crash test reads the slot times of a fan-out back). Windows longer than a day are not supported:
-- rows older than a day and an hour are swept now and then, whatever their bucket.
CREATE OR REPLACE FUNCTION rate_limit_take(p_bucket text, p_limit int, p_window interval, p_record boolean)
RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    n        int;
    frees_at timestamptz;
    t        timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('rate_events:' || p_bucket, 0));
    t := clock_timestamp();
    DELETE FROM rate_events WHERE bucket = p_bucket AND at <= t - p_window - interval '1 hour';
    SELECT count(*) INTO n FROM rate_events WHERE bucket = p_bucket AND at > t - p_window;
    IF n >= p_limit THEN
        -- The slot frees when enough of the oldest events have aged out (limits can be lowered).
        SELECT at + p_window INTO frees_at FROM rate_events WHERE bucket = p_bucket AND at > t - p_window
        ORDER BY at OFFSET n - p_limit LIMIT 1;
        RETURN greatest(extract(epoch FROM frees_at - t), 0.001);
    END IF;
    IF p_record THEN
        INSERT INTO rate_events (bucket, at) VALUES (p_bucket, t);
    END IF;
    IF random() < 0.001 THEN
        DELETE FROM rate_events WHERE at < t - interval '25 hours';
    END IF;
    RETURN 0;
END
$$;

-- The engine's recent calls keep counting against their limits across the upgrade.
INSERT INTO rate_events (bucket, at) SELECT 'calls:' || name, at FROM rate_limit_calls;
DROP TABLE rate_limit_calls;
DROP TABLE rate_limits;
