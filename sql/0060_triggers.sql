-- Triggers from outside (app/triggers): `POST /hooks/t/<id>` starts a run of the trigger's target
-- when another system posts JSON to it, signed (HMAC, the resume webhooks' scheme) or with a bearer token.
CREATE TABLE triggers (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            text NOT NULL,
    workflow        text NOT NULL,              -- a built-in workflow by name
    -- Input field -> JSON pointer into the delivered body (RFC 6901); NULL passes the body through.
    mapping         jsonb,
    auth_mode       text NOT NULL CHECK (auth_mode IN ('hmac', 'bearer')),
    -- hmac: the signing secret, encrypted (app/core/secrets_box.py): it must be read to check a signature.
    -- bearer: the SHA-256 of the token (it is only compared, never read back).
    secret          text NOT NULL,
    secret_hint     text NOT NULL,              -- its first characters, to tell secrets apart
    enabled         boolean NOT NULL DEFAULT true,
    rate_per_minute int NOT NULL DEFAULT 60 CHECK (rate_per_minute BETWEEN 1 AND 6000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triggers_owner ON triggers (owner_id, created_at DESC);

-- Every delivery that reached a trigger: what it was answered, and the run it started (or replayed).
-- Only the last few per trigger are kept (app/triggers/store.py trims on insert).
CREATE TABLE trigger_deliveries (
    id          bigserial PRIMARY KEY,
    trigger_id  uuid NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    status      int NOT NULL,
    run_id      uuid REFERENCES runs (id) ON DELETE SET NULL,
    replayed    boolean NOT NULL DEFAULT false,  -- the Idempotency-Key named an earlier run
    message     text                             -- why it was refused, for the owner
);
CREATE INDEX trigger_deliveries_trigger ON trigger_deliveries (trigger_id, id DESC);

-- Which trigger started a run ("started by trigger <name>"): the name is kept as it was, so a run
-- still says where it came from after its trigger is renamed or deleted.
ALTER TABLE runs ADD COLUMN trigger_id uuid REFERENCES triggers (id) ON DELETE SET NULL,
                 ADD COLUMN trigger_name text;
CREATE INDEX runs_trigger ON runs (trigger_id) WHERE trigger_id IS NOT NULL;
