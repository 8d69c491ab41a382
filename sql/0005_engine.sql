-- The durable engine's state: runs, their step journal, hooks, fan-out children, rate limits and
-- the run event log. Owned by app/engine; see ARCHITECTURE.md §3 for the guarantees.

CREATE TABLE runs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id          bigint,
    workflow         text NOT NULL,
    version          int NOT NULL,
    title            text NOT NULL,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'sleeping', 'waiting', 'completed', 'failed', 'cancelled')),
    input            jsonb NOT NULL,
    output           jsonb,
    error            jsonb,                  -- {"type", "message", "step"}
    idempotency_key  text,
    waiting_for      text,                   -- what a suspended run waits for, in words
    wake_at          timestamptz,            -- when a sleeping run is due (also hook expiry)
    progress         jsonb,                  -- {"done", "total", "label"}
    cancel_requested boolean NOT NULL DEFAULT false,
    steps_done       int NOT NULL DEFAULT 0,
    tokens_in        bigint NOT NULL DEFAULT 0,
    tokens_out       bigint NOT NULL DEFAULT 0,
    cost_usd         numeric(14, 6) NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    UNIQUE (owner_id, idempotency_key)
);
CREATE INDEX runs_owner_created ON runs (owner_id, created_at DESC);
CREATE INDEX runs_owner_status_created ON runs (owner_id, status, created_at DESC);
CREATE INDEX runs_chat ON runs (chat_id, created_at) WHERE chat_id IS NOT NULL;
CREATE INDEX runs_unfinished ON runs (status, updated_at) WHERE status IN ('queued', 'running', 'sleeping', 'waiting');
CREATE INDEX runs_wake_at ON runs (wake_at) WHERE status IN ('sleeping', 'waiting');

-- The journal: one row per durable call of the workflow code, identified by its position.
CREATE TABLE run_steps (
    run_id       uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq          int NOT NULL,
    name         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('step', 'sleep', 'hook', 'map', 'transaction', 'now', 'uuid')),
    status       text NOT NULL CHECK (status IN ('running', 'retrying', 'sleeping', 'waiting', 'completed', 'failed')),
    attempts     int NOT NULL DEFAULT 0,
    output       jsonb,
    error        jsonb,
    detail       jsonb,                      -- kind-specific: map spec, hook id, retry time
    wake_at      timestamptz,
    started_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    duration_ms  double precision,
    model        text,
    tokens_in    int,
    tokens_out   int,
    cost_usd     numeric(14, 6),
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE hooks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         int NOT NULL,
    owner_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token       text NOT NULL UNIQUE,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('approval', 'input', 'webhook')),
    status      text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'resolved', 'expired', 'cancelled')),
    actions     text[] NOT NULL,
    show        jsonb,                      -- what the person deciding is shown
    assignee    text,                       -- lower-cased email
    secret      text,                       -- webhook HMAC key, when the hook asks for signatures
    action      text,
    response    jsonb,
    decided_by  text,
    decided_at  timestamptz,
    expires_at  timestamptz,
    remind_at   timestamptz,
    reminded_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, seq)
);
CREATE INDEX hooks_waiting_owner ON hooks (owner_id, created_at DESC) WHERE status = 'waiting';
CREATE INDEX hooks_waiting_assignee ON hooks (assignee) WHERE status = 'waiting' AND assignee IS NOT NULL;

-- Fan-out: one row per child of a run.map call, executed as its own job on any worker.
CREATE TABLE run_children (
    run_id       uuid NOT NULL,
    seq          int NOT NULL,
    idx          int NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'queued', 'completed', 'failed', 'cancelled')),
    item         jsonb,
    output       jsonb,
    error        jsonb,
    attempts     int NOT NULL DEFAULT 0,
    started_at   timestamptz,
    completed_at timestamptz,
    PRIMARY KEY (run_id, seq, idx),
    FOREIGN KEY (run_id, seq) REFERENCES run_steps (run_id, seq) ON DELETE CASCADE
);
CREATE INDEX run_children_pending ON run_children (run_id, seq, idx) WHERE status = 'pending';

-- Named rate limits that hold across every worker: a sliding window of recent calls.
CREATE TABLE rate_limits (
    name        text PRIMARY KEY,
    max_calls   int NOT NULL CHECK (max_calls > 0),
    per_seconds double precision NOT NULL CHECK (per_seconds > 0)
);
CREATE TABLE rate_limit_calls (
    name text NOT NULL REFERENCES rate_limits (name) ON DELETE CASCADE,
    at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX rate_limit_calls_name_at ON rate_limit_calls (name, at);

-- What happened to a run, in order; every insert is announced to the web processes on channel
-- baton_events as {"kind": "run.<event kind>", "event_id", "run_id", "user_id"} (see app/web/live).
CREATE TABLE run_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    owner_id   bigint NOT NULL,
    kind       text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_events_run ON run_events (run_id, id);

CREATE FUNCTION baton_announce_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('baton_events', json_build_object(
        'kind', 'run.' || NEW.kind, 'event_id', NEW.id,
        'run_id', NEW.run_id, 'user_id', NEW.owner_id)::text);
    RETURN NEW;
END $$;
CREATE TRIGGER run_events_announce AFTER INSERT ON run_events
    FOR EACH ROW EXECUTE FUNCTION baton_announce_run_event();

-- A run has at most one pending advance job (queueing lock 'run:<id>'); waking it moves that job
-- earlier or creates it. The matching lock keeps two jobs of one run from ever running together.
-- NULL `p_at` means now.
CREATE FUNCTION baton_wake_run(p_run uuid, p_at timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    key text := 'run:' || p_run;
    job bigint;
BEGIN
    FOR attempt IN 1..3 LOOP
        UPDATE procrastinate_jobs
           SET scheduled_at = CASE WHEN scheduled_at IS NULL OR p_at IS NULL THEN NULL
                                   ELSE least(scheduled_at, p_at) END
         WHERE queueing_lock = key AND status = 'todo'
        RETURNING id INTO job;
        IF job IS NOT NULL THEN
            IF p_at IS NULL OR p_at <= now() THEN
                PERFORM pg_notify('procrastinate_any_queue_v1',
                                  json_build_object('type', 'job_inserted', 'job_id', job)::text);
            END IF;
            RETURN job;
        END IF;
        BEGIN
            INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
            VALUES ('baton', 'baton.advance_run', 0, key, key, jsonb_build_object('run_id', p_run), p_at)
            RETURNING id INTO job;
            RETURN job;
        EXCEPTION WHEN unique_violation THEN
            -- another transaction queued one at the same moment: move that one instead
        END;
    END LOOP;
    RAISE 'could not queue run %', p_run;
END $$;

-- The earliest due job, for the wake-up nudger (worker/wakeups.py).
CREATE INDEX baton_jobs_todo_scheduled ON procrastinate_jobs (scheduled_at) WHERE status = 'todo';

-- Monotonic counters the metrics endpoint reports (e.g. sweeper recoveries).
CREATE TABLE engine_counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL DEFAULT 0
);
