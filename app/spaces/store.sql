-- Queries of app/spaces/store.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- member_space --
-- A space as one of its members sees it: nothing when the user is not (or no longer) a member, so a
-- foreign or revoked space is simply not found.
SELECT s.id, s.kind, s.name, s.slug, m.role, coalesce(s.tier, u.tier) AS tier
FROM space_members m JOIN spaces s ON s.id = m.space_id JOIN users u ON u.id = m.user_id
WHERE m.user_id = %(user_id)s AND m.space_id = %(space_id)s

-- personal_space --
-- Every user has exactly one personal space (made with the user by a trigger).
SELECT s.id, s.kind, s.name, s.slug, 'owner' AS role, u.tier
FROM spaces s JOIN users u ON u.id = s.personal_of WHERE s.personal_of = %(user_id)s

-- team_by_slug --
-- The team named on the command line or in a URL, if the user is a member of it.
SELECT s.id, s.kind, s.name, s.slug, m.role, s.tier
FROM spaces s JOIN space_members m ON m.space_id = s.id AND m.user_id = %(user_id)s
WHERE s.slug = %(slug)s AND s.kind = 'team'

-- user_spaces --
-- The spaces the header's switcher offers: personal first, then teams by name.
SELECT s.id, s.kind, s.name, s.slug, m.role, coalesce(s.tier, u.tier) AS tier
FROM space_members m JOIN spaces s ON s.id = m.space_id JOIN users u ON u.id = m.user_id
WHERE m.user_id = %(user_id)s
ORDER BY s.kind = 'team', lower(s.name), s.id

-- set_current_space --
-- The switcher: the session works in this space from now on, only if the user is a member of it.
UPDATE sessions SET space_id = %(space_id)s
WHERE id = %(session_id)s AND user_id = %(user_id)s
  AND EXISTS (SELECT 1 FROM space_members WHERE space_id = %(space_id)s AND user_id = %(user_id)s)
RETURNING space_id
