-- Accounts and the tiers that bound them. The accounts area (app/web/auth) owns these tables;
-- the engine only reads tiers when it checks a quota.

CREATE TABLE tiers (
    name            text PRIMARY KEY,
    title           text NOT NULL,
    position        int NOT NULL,
    monthly_runs    int,            -- NULL: unlimited
    chat_per_minute int NOT NULL,
    api_per_minute  int NOT NULL,
    CHECK (monthly_runs IS NULL OR monthly_runs >= 0),
    CHECK (chat_per_minute > 0 AND api_per_minute > 0)
);

INSERT INTO tiers (name, title, position, monthly_runs, chat_per_minute, api_per_minute) VALUES
    ('free',       'Free',       1, 0,    10,  60),
    ('pro',        'Pro',        2, 10,   30,  300),
    ('premium',    'Premium',    3, 50,   60,  1200),
    ('enterprise', 'Enterprise', 4, NULL, 120, 6000);

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stored lower-cased (the app normalises before every insert and lookup): citext is a contrib
    -- extension that the embedded server (pgserver) does not ship.
    email         text NOT NULL UNIQUE CHECK (email = lower(email)),
    password_hash text,
    tier          text NOT NULL DEFAULT 'free' REFERENCES tiers (name) ON UPDATE CASCADE,
    is_admin      boolean NOT NULL DEFAULT false,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
