-- Queries of app/engine/quotas.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- lock_spaces --
-- The quota belongs to the space a run starts in (a team's plan, or a personal space's user's tier),
-- and the starter must be a member of it (their role is checked by the caller). NO KEY UPDATE
-- serialises one space's starts without blocking the foreign-key checks (KEY SHARE) of rows that
-- reference the space, such as a run being inserted or finishing elsewhere (which would deadlock).
-- Held until the start's transaction commits, so concurrent starts, by any number of members,
-- cannot exceed the quota. A batch of starts locks all of its spaces in one statement, in space id
-- order, so two batches (or a batch and a single start) never wait on each other in a cycle.
-- NULL space: the owner's personal space. One row per (owner, asked space) that exists.
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
FOR NO KEY UPDATE OF s

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
