-- Queries of app/engine/quotas.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- space_plans --
-- The quota belongs to the space a run starts in (a team's plan, or a personal space's user's tier),
-- and the starter must be a member of it (their role is checked by the caller). Read before the
-- spaces are locked (to choose each one's lock, `lock_spaces_for_quota` or `share_spaces`) and again
-- under the locks when a space has a quota. NULL space: the owner's personal space. One row per
-- (owner, asked space) that exists and where the owner is a member.
WITH asked AS (
    SELECT DISTINCT a.owner_id, a.space_id AS asked_space_id,
           coalesce(a.space_id, (SELECT id FROM spaces WHERE personal_of = a.owner_id)) AS space_id
    FROM unnest(%(owner_ids)s::bigint[], %(space_ids)s::bigint[]) AS a(owner_id, space_id)
)
SELECT u.id, a.asked_space_id, s.id AS space_id, s.kind AS space_kind, s.name AS space_name, m.role,
       t.name AS tier, t.title AS tier_title, t.monthly_runs
FROM asked a
JOIN spaces s ON s.id = a.space_id
JOIN space_members m ON m.space_id = s.id AND m.user_id = a.owner_id
JOIN users u ON u.id = m.user_id
JOIN tiers t ON t.name = coalesce(s.tier, u.tier)
ORDER BY s.id

-- lock_spaces_for_quota --
-- A space with a monthly quota takes one start (or batch) at a time, until its transaction commits,
-- so concurrent starts, by any number of members, cannot exceed the quota. NO KEY UPDATE
-- serialises them without blocking the foreign-key checks (KEY SHARE) of rows that reference the
-- space, such as a run being inserted or finishing elsewhere (which would deadlock). In space id
-- order (and before `share_spaces`), so two batches (or a batch and a single start) never wait on
-- each other in a cycle.
SELECT id FROM spaces WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR NO KEY UPDATE

-- share_spaces --
-- A space with no quota lets its starts run side by side (a crowded second of one owner's schedules
-- fires in parallel batches); SHARE still makes a start that finds the space now has a quota (its
-- tier was just changed) wait in `lock_spaces_for_quota` until these starts have committed, so it
-- counts them. In space id order.
SELECT id FROM spaces WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR SHARE

-- runs_this_month --
-- The quota's count: the space's runs started this calendar month (UTC), operator checks (selftest)
-- excepted, as kept by the start command (space_month_runs, sql/0100). One row per space asked about.
SELECT s.space_id, coalesce(c.runs, 0) AS used
FROM unnest(%(space_ids)s::bigint[]) AS s(space_id)
LEFT JOIN space_month_runs c
       ON c.space_id = s.space_id AND c.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date

-- month_usage --
-- What the owner has used this calendar month (UTC), for their account page: the quota's own count
-- of runs beside the month's tokens and cost.
SELECT coalesce(u.tokens_in, 0) AS tokens_in, coalesce(u.tokens_out, 0) AS tokens_out,
       coalesce(u.cost_usd, 0) AS cost_usd, coalesce(u.steps, 0) AS steps,
       (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month')::date AS resets_on
FROM (SELECT 1) one
LEFT JOIN usage_monthly u ON u.user_id = %(owner_id)s AND u.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date

-- space_month_usage --
-- A team's usage this calendar month (UTC) adds up across its members: the tokens, steps and cost of
-- the team's runs started this month (index runs_space_created), for the account page in the team.
SELECT coalesce(sum(tokens_in), 0)::bigint AS tokens_in, coalesce(sum(tokens_out), 0)::bigint AS tokens_out,
       coalesce(sum(cost_usd), 0) AS cost_usd, coalesce(sum(steps_done), 0)::bigint AS steps,
       (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month')::date AS resets_on
FROM runs
WHERE space_id = %(space_id)s
  AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
