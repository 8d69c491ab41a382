-- Publishing connectors (per user) and the schedules of `scheduled-publishing` runs.
-- connectors: owned by app/steps/publishers/connectors.py (settings page: app/web/connectors).
-- publishing_*: owned by app/steps/publishers/schedule.py; the run reads the schedule at every
-- wake-up and journals the version it acted on, the owner edits it while the run waits.
CREATE TABLE connectors (
    id          bigserial PRIMARY KEY,
    owner_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('webhook', 'mastodon')),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    url         text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    secret_enc  text NOT NULL,              -- Fernet token (app/core/secrets_box.py), never plaintext
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner_id, name)
);

CREATE TABLE publishing_schedules (
    run_id          uuid PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    owner_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connector_id    bigint REFERENCES connectors (id) ON DELETE SET NULL,
    connector_name  text NOT NULL,
    timezone        text NOT NULL,
    state           text NOT NULL DEFAULT 'review' CHECK (state IN ('review', 'active', 'finished', 'rejected')),
    version         int NOT NULL DEFAULT 1,  -- bumped by every edit; journaled by the run at each wake-up
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX publishing_schedules_owner ON publishing_schedules (owner_id);

CREATE TABLE publishing_posts (
    id              bigserial PRIMARY KEY,
    run_id          uuid NOT NULL REFERENCES publishing_schedules (run_id) ON DELETE CASCADE,
    body            text NOT NULL CHECK (length(body) BETWEEN 1 AND 500),
    publish_at      timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'scheduled'
                    CHECK (status IN ('scheduled', 'publishing', 'published', 'skipped', 'deleted', 'cancelled')),
    published_at    timestamptz,
    remote_id       text,
    remote_url      text,
    idempotency_key text,
    error           text,
    metrics         jsonb,                  -- {"likes", "shares", "replies"} once fetched
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX publishing_posts_run ON publishing_posts (run_id, publish_at, id);
