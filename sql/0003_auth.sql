-- Sessions and rate limits. Owned by app/web/auth; the chat and API areas use the rate limiter.

-- A row per signed-in browser. The cookie carries a random token; only its SHA-256 is stored,
-- so a leaked database dump holds no usable session. Deleting rows signs browsers out.
CREATE TABLE sessions (
    id           text PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    user_agent   text NOT NULL DEFAULT '',
    ip           text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- A sliding-window log: one row per counted event (a failed login, a chat message) per bucket.
CREATE TABLE rate_events (
    bucket text NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rate_events_bucket_at_idx ON rate_events (bucket, at);

-- Seconds until `p_bucket` may count another event under "at most p_limit per p_window"; 0 means
-- now, and with p_record the event is counted in the same call. An advisory lock per bucket makes
-- check-and-count atomic across every process, so the limit holds with many web processes.
-- Windows longer than a day are not supported: rows older than that are swept now and then.
CREATE FUNCTION rate_limit_take(p_bucket text, p_limit int, p_window interval, p_record boolean)
RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    n        int;
    frees_at timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('rate_events:' || p_bucket, 0));
    DELETE FROM rate_events WHERE bucket = p_bucket AND at <= now() - p_window;
    SELECT count(*) INTO n FROM rate_events WHERE bucket = p_bucket;
    IF n >= p_limit THEN
        -- The slot frees when enough of the oldest events have aged out (limits can be lowered).
        SELECT at + p_window INTO frees_at FROM rate_events WHERE bucket = p_bucket
        ORDER BY at OFFSET n - p_limit LIMIT 1;
        RETURN greatest(extract(epoch FROM frees_at - now()), 0.001);
    END IF;
    IF p_record THEN
        INSERT INTO rate_events (bucket) VALUES (p_bucket);
    END IF;
    IF random() < 0.001 THEN
        DELETE FROM rate_events WHERE at < now() - interval '1 day';
    END IF;
    RETURN 0;
END
$$;
