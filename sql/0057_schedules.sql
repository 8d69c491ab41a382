-- Schedules (app/schedules): workflows that start themselves, exactly once per fire.
-- A schedule is found when due through `schedules_due` (only rows with a next fire are indexed),
-- woken by one Procrastinate job per distinct fire time, never by polling every schedule.
CREATE TABLE schedules (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id             bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    workflow             text,
    input                jsonb NOT NULL DEFAULT '{}',
    cron                 text CHECK (length(cron) <= 200),
    every_s              int CHECK (every_s BETWEEN 1 AND 31622400),
    time_zone            text NOT NULL DEFAULT 'UTC',
    -- Interval fires fall at anchor_at + k * every_s; cron fires at the expression's wall times.
    anchor_at            timestamptz NOT NULL DEFAULT date_trunc('second', now()),
    starts_at            timestamptz,
    ends_at              timestamptz,
    overlap              text NOT NULL DEFAULT 'skip'
                         CHECK (overlap IN ('skip', 'buffer-one', 'allow-all', 'cancel-previous')),
    catch_up             text NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest', 'all', 'none')),
    catch_up_window_s    int NOT NULL DEFAULT 86400 CHECK (catch_up_window_s BETWEEN 1 AND 31622400),
    pause_after_failures int CHECK (pause_after_failures BETWEEN 1 AND 1000),
    failures_in_a_row    int NOT NULL DEFAULT 0,
    paused               boolean NOT NULL DEFAULT false,
    paused_note          text CHECK (length(paused_note) <= 500),
    -- NULL while paused, after ends_at, or for a spec with no further fire.
    next_fire_at         timestamptz,
    -- buffer-one: the fire waiting for the schedule's running run to finish.
    buffered_fire_at     timestamptz,
    -- The month (UTC) the owner was last told a fire was skipped for the quota: once a month.
    quota_noticed_month  date,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schedules_target CHECK (workflow IS NOT NULL),
    CONSTRAINT schedules_spec CHECK ((cron IS NULL) <> (every_s IS NULL))
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;
CREATE INDEX schedules_owner ON schedules (owner_id, created_at);

-- One row per fire: the primary key is what makes a fire start at most one run, whichever
-- process gets there first; it is inserted in the transaction that starts the run.
CREATE TABLE schedule_fires (
    schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    fire_at     timestamptz NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('scheduled', 'catch-up', 'manual', 'backfill')),
    outcome     text NOT NULL CHECK (outcome IN ('started', 'buffered', 'skipped: overlap', 'skipped: quota',
                                                 'skipped: buffer full', 'failed')),
    run_id      uuid REFERENCES runs (id) ON DELETE SET NULL,
    detail      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, fire_at)
);
CREATE INDEX schedule_fires_recent ON schedule_fires (schedule_id, created_at DESC);

-- A run started by a schedule names it and the fire it is for (run cards, API, CLI).
ALTER TABLE runs ADD COLUMN schedule_id uuid REFERENCES schedules (id) ON DELETE SET NULL,
                 ADD COLUMN fire_at timestamptz;
CREATE INDEX runs_schedule ON runs (schedule_id, created_at DESC) WHERE schedule_id IS NOT NULL;
