-- API keys for the JSON API. Owned by app/web/api (keys.py); the settings page and `baton apikey`
-- use it. The key itself ("bk_" + 43 random characters) is shown once and never stored: only its
-- SHA-256, so a leaked database dump holds no usable key. A high-entropy key needs no slow hash.

CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL,              -- the key's first characters, to recognise it in lists
    key_hash     text NOT NULL UNIQUE,       -- hex SHA-256 of the whole key
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz                 -- set: the key stops working on the next request
);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at DESC);
