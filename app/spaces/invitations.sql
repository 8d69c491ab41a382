-- Queries of app/spaces/invitations.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- insert_invitation --
-- A new invitation; the link's token is kept only as its SHA-256.
INSERT INTO space_invitations (space_id, email, role, token_hash, invited_by, expires_at)
VALUES (%(space_id)s, lower(%(email)s), %(role)s, %(token_hash)s, %(actor_id)s,
        now() + make_interval(days => %(days)s))
RETURNING id, email, role, expires_at

-- replace_pending --
-- A new invitation to an address revokes the team's earlier pending ones to it, pointing them at
-- the new one; one link per address is usable at a time.
UPDATE space_invitations
SET revoked_at = now(), revoked_by = %(actor_id)s, replaced_by = %(new_id)s
WHERE space_id = %(space_id)s AND email = lower(%(email)s) AND id <> %(new_id)s
  AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
RETURNING id

-- pending_invitations --
-- The team page: invitations not yet used, revoked or expired, newest first.
SELECT i.id, i.email, i.role, i.created_at, i.expires_at, u.email AS invited_by
FROM space_invitations i LEFT JOIN users u ON u.id = i.invited_by
WHERE i.space_id = %(space_id)s AND i.accepted_at IS NULL AND i.revoked_at IS NULL
  AND i.expires_at > now()
ORDER BY i.created_at DESC, i.id DESC

-- revoke_invitation --
-- An admin takes back an invitation of their own team that has not been used yet.
UPDATE space_invitations SET revoked_at = now(), revoked_by = %(actor_id)s
WHERE id = %(id)s AND space_id = %(space_id)s AND accepted_at IS NULL AND revoked_at IS NULL
RETURNING id, email, role

-- invitation_by_token --
-- What the link shows: the team and role, and whether the link can still be used (and why not).
SELECT i.id, i.space_id, i.email, i.role, i.expires_at, s.name AS team_name, s.slug AS team_slug,
       CASE WHEN i.accepted_at IS NOT NULL THEN 'used'
            WHEN i.replaced_by IS NOT NULL THEN 'replaced'
            WHEN i.revoked_at IS NOT NULL THEN 'revoked'
            WHEN i.expires_at <= now() THEN 'expired'
            ELSE 'pending' END AS status
FROM space_invitations i JOIN spaces s ON s.id = i.space_id
WHERE i.token_hash = %(token_hash)s

-- use_invitation --
-- Accepting takes the invitation once: of two tabs (or two people with the link) only one gets it.
UPDATE space_invitations SET accepted_at = now(), accepted_by = %(user_id)s
WHERE token_hash = %(token_hash)s AND accepted_at IS NULL AND revoked_at IS NULL
  AND expires_at > now()
RETURNING id, space_id, email, role

-- already_member --
-- Inviting someone who is already in the team would only send a useless link.
SELECT 1 FROM space_members m JOIN users u ON u.id = m.user_id
WHERE m.space_id = %(space_id)s AND u.email = lower(%(email)s)
