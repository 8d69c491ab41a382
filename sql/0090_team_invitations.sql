-- Invitations to a team: an admin invites an e-mail address with a role; the link in the mail
-- carries a random token, of which only the SHA-256 is kept. A link is good once, for 7 days, and
-- an admin may revoke it before then; a used, revoked or expired link grants nothing.
CREATE TABLE space_invitations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    space_id    bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    email       text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    role        text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    token_hash  text NOT NULL UNIQUE,
    invited_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by bigint REFERENCES users (id) ON DELETE SET NULL,
    revoked_at  timestamptz,
    revoked_by  bigint REFERENCES users (id) ON DELETE SET NULL
);
-- The team page lists the pending ones.
CREATE INDEX space_invitations_pending ON space_invitations (space_id, created_at DESC)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
