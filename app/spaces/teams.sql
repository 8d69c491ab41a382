-- Queries of app/spaces/teams.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- user_tier --
-- A new team's plan is its creator's tier unless an instance admin chooses another.
SELECT tier FROM users WHERE id = %(user_id)s

-- insert_team --
-- A team space; a taken slug raises a unique violation and the caller tries the next one.
INSERT INTO spaces (kind, name, slug, tier, created_by)
VALUES ('team', %(name)s, %(slug)s, %(tier)s, %(user_id)s)
RETURNING id, kind, name, slug, 'owner' AS role, tier

-- insert_member --
-- A new membership; nothing when the user is already a member (the caller says so).
INSERT INTO space_members (space_id, user_id, role) VALUES (%(space_id)s, %(user_id)s, %(role)s)
ON CONFLICT (space_id, user_id) DO NOTHING
RETURNING user_id

-- lock_team --
-- Member changes of one team take turns on its row, so two concurrent removals (or demotions) of
-- the last two owners cannot both see "another owner is left". NO KEY UPDATE: rows that reference
-- the space (runs being inserted) keep their foreign-key checks unblocked.
SELECT id FROM spaces WHERE id = %(space_id)s AND kind = 'team' FOR NO KEY UPDATE

-- member_role --
-- The role a member has now (read under the team's lock).
SELECT role FROM space_members WHERE space_id = %(space_id)s AND user_id = %(user_id)s

-- change_role --
-- Only changes a role when the team keeps an owner: an owner is demoted only if another owner
-- remains. Runs under lock_team, so the count cannot change underneath.
UPDATE space_members m SET role = %(role)s
WHERE m.space_id = %(space_id)s AND m.user_id = %(user_id)s
  AND (m.role <> 'owner' OR %(role)s = 'owner'
       OR (SELECT count(*) FROM space_members o
           WHERE o.space_id = m.space_id AND o.role = 'owner') > 1)
RETURNING m.role

-- remove_member --
-- Removes a member unless they are the team's last owner. Runs under lock_team.
DELETE FROM space_members m
WHERE m.space_id = %(space_id)s AND m.user_id = %(user_id)s
  AND (m.role <> 'owner'
       OR (SELECT count(*) FROM space_members o
           WHERE o.space_id = m.space_id AND o.role = 'owner') > 1)
RETURNING m.role

-- team_members --
-- The team page's member list: highest role first, then by e-mail.
SELECT m.user_id, u.email, m.role, m.added_at
FROM space_members m JOIN users u ON u.id = m.user_id
WHERE m.space_id = %(space_id)s
ORDER BY array_position(ARRAY['owner', 'admin', 'member', 'viewer'], m.role), u.email

-- user_by_email --
-- Adding someone by e-mail from the CLI: they must already have an account.
SELECT id, email FROM users WHERE email = lower(%(email)s)

-- rename_team --
-- The owner renames the team; its slug (in links and on the command line) stays.
UPDATE spaces SET name = %(name)s WHERE id = %(space_id)s AND kind = 'team' RETURNING id

-- set_team_tier --
-- An instance admin moves a team to another plan (its quota from now on).
UPDATE spaces SET tier = %(tier)s WHERE id = %(space_id)s AND kind = 'team' RETURNING id

-- all_teams --
-- `baton teams list`: every team of the instance with its members.
SELECT s.slug, s.name, s.tier,
       coalesce(jsonb_agg(jsonb_build_object('email', u.email, 'role', m.role)
                          ORDER BY array_position(ARRAY['owner', 'admin', 'member', 'viewer'], m.role), u.email)
                FILTER (WHERE m.user_id IS NOT NULL), '[]'::jsonb) AS members
FROM spaces s
LEFT JOIN space_members m ON m.space_id = s.id
LEFT JOIN users u ON u.id = m.user_id
WHERE s.kind = 'team'
GROUP BY s.id ORDER BY s.slug

-- team_by_slug_any --
-- The CLI acts as the instance's operator: a team by its slug, whoever its members are.
SELECT id, kind, name, slug, 'owner' AS role, tier FROM spaces WHERE slug = %(slug)s AND kind = 'team'

-- usage_by_member --
-- A team's usage this calendar month (UTC), per member who started runs in it: runs, steps,
-- tokens and cost, from the runs and steps of the space itself (usage_monthly is per user, across
-- spaces). Members who started nothing are listed with zeros; a former member's runs still count
-- (their role is NULL).
WITH month_runs AS (
    SELECT r.id, r.owner_id FROM runs r
    WHERE r.space_id = %(space_id)s
      AND r.created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
), per_owner AS (
    SELECT mr.owner_id, count(DISTINCT mr.id) AS runs, count(s.run_id) AS steps,
           coalesce(sum(s.tokens_in), 0) + coalesce(sum(s.tokens_out), 0) AS tokens,
           coalesce(sum(s.cost_usd), 0) AS cost_usd
    FROM month_runs mr LEFT JOIN run_steps s ON s.run_id = mr.id
    GROUP BY mr.owner_id
)
SELECT u.id AS user_id, u.email, m.role, coalesce(p.runs, 0) AS runs, coalesce(p.steps, 0) AS steps,
       coalesce(p.tokens, 0) AS tokens, coalesce(p.cost_usd, 0) AS cost_usd
FROM per_owner p
FULL JOIN (SELECT user_id, role FROM space_members WHERE space_id = %(space_id)s) m
    ON m.user_id = p.owner_id
JOIN users u ON u.id = coalesce(p.owner_id, m.user_id)
ORDER BY coalesce(p.cost_usd, 0) DESC, coalesce(p.runs, 0) DESC, u.email

-- active_runs --
-- A team is not deleted while its runs are under way (they would vanish mid-step).
SELECT count(*) AS n FROM runs
WHERE space_id = %(space_id)s AND status IN ('queued', 'running', 'sleeping', 'waiting')

-- delete_team --
-- Deleting a team deletes everything in it (runs, templates, schedules, triggers, connectors, keys,
-- invitations, its audit log); sessions working in it fall back to their personal space.
DELETE FROM spaces WHERE id = %(space_id)s AND kind = 'team' RETURNING id

-- teams_for_admin --
-- The instance admin's list of teams (/admin/teams): a page of them whose name or slug contains
-- the search (position(): `%` and `_` typed are literal), with how many members they have and how
-- many runs they started this calendar month (UTC), the month their plan's quota counts; or the
-- one team `id` (its row again after a change).
SELECT s.id, s.slug, s.name, s.tier, s.created_at,
       (SELECT count(*) FROM space_members m WHERE m.space_id = s.id) AS members,
       (SELECT count(*) FROM runs r
        WHERE r.space_id = s.id
          AND r.created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS month_runs
FROM spaces s
WHERE s.kind = 'team' AND (%(id)s::bigint IS NULL OR s.id = %(id)s)
  AND (%(q)s = '' OR position(lower(%(q)s) IN lower(s.name)) > 0 OR position(lower(%(q)s) IN s.slug) > 0)
ORDER BY s.name, s.id LIMIT %(limit)s OFFSET %(offset)s

-- team_by_id_any --
-- The instance admin acts on a team by its id, whoever its members are (as its operator: "owner").
SELECT id, kind, name, slug, 'owner' AS role, tier FROM spaces WHERE id = %(id)s AND kind = 'team'
