-- Queries of app/engine/quotas.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- lock_space --
-- The quota belongs to the space a run starts in (a team's plan, or a personal space's user's tier),
-- and the starter must be a member of it (their role is checked by the caller). NO KEY UPDATE
-- serialises one space's starts without blocking the foreign-key checks (KEY SHARE) of rows that
-- reference the space, such as a run being inserted or finishing elsewhere (which would deadlock).
-- Held until the start's transaction commits, so concurrent starts, by any number of members,
-- cannot exceed the quota. NULL space: the owner's personal space.
SELECT u.id, s.id AS space_id, s.kind AS space_kind, s.name AS space_name, m.role, t.name AS tier,
       t.title AS tier_title, t.monthly_runs
FROM spaces s
JOIN space_members m ON m.space_id = s.id AND m.user_id = %(owner_id)s
JOIN users u ON u.id = m.user_id
JOIN tiers t ON t.name = coalesce(s.tier, u.tier)
WHERE s.id = coalesce(%(space_id)s::bigint, (SELECT id FROM spaces WHERE personal_of = %(owner_id)s))
FOR NO KEY UPDATE OF s

-- runs_this_month --
-- The quota counts the space's runs themselves, not usage_monthly.runs, because operator checks
-- (selftest) are usage but not quota. It resets by calendar month in UTC, as usage does.
SELECT count(*) AS used FROM runs
WHERE space_id = %(space_id)s AND workflow <> ALL(%(exempt)s)
  AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'

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
