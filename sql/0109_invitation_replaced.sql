-- Inviting an address again replaces its pending invitation: the earlier link is revoked and
-- remembers the one that replaced it, so it can say so ("replaced by a newer invitation").
ALTER TABLE space_invitations
    ADD COLUMN replaced_by bigint REFERENCES space_invitations (id) ON DELETE SET NULL;
-- The retention job deletes invitations that stopped being usable long ago (used, revoked,
-- expired: the first of these moments), oldest first.
CREATE INDEX space_invitations_ended
    ON space_invitations ((coalesce(accepted_at, revoked_at, expires_at)));
