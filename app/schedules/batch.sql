-- Queries of app/schedules/batch.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- insert_fires --
-- `insert_fire` for a batch of due schedules (one fire each): the fires that were not recorded yet.
INSERT INTO schedule_fires (schedule_id, fire_at, kind, outcome)
SELECT * FROM unnest(%(schedule_ids)s::uuid[], %(fire_ats)s::timestamptz[], %(kinds)s::text[], %(outcomes)s::text[])
ON CONFLICT (schedule_id, fire_at) DO NOTHING
RETURNING schedule_id

-- schedules_with_active_runs --
-- `active_runs` for a batch: which of these schedules have a run that has not ended (index runs_schedule).
SELECT DISTINCT schedule_id FROM runs
WHERE schedule_id = ANY(%(schedule_ids)s::uuid[]) AND status IN ('queued', 'running', 'sleeping', 'waiting')

-- set_fire_outcomes --
-- `set_fire_outcome` for a batch of fires, in the transaction that inserted them.
UPDATE schedule_fires f SET outcome = o.outcome, run_id = o.run_id, detail = o.detail
FROM unnest(%(schedule_ids)s::uuid[], %(fire_ats)s::timestamptz[], %(outcomes)s::text[], %(run_ids)s::uuid[],
            %(details)s::text[]) AS o(schedule_id, fire_at, outcome, run_id, detail)
WHERE f.schedule_id = o.schedule_id AND f.fire_at = o.fire_at

-- set_next_fires --
-- `set_next_fire` for a batch of schedules.
UPDATE schedules s SET next_fire_at = n.next_fire_at, buffered_fire_at = n.buffered_fire_at, updated_at = now()
FROM unnest(%(ids)s::uuid[], %(next_fire_ats)s::timestamptz[], %(buffered_fire_ats)s::timestamptz[])
     AS n(id, next_fire_at, buffered_fire_at)
WHERE s.id = n.id

-- quota_notices_due --
-- `quota_notice_due` for a batch: the schedules whose owner has not yet heard this month of a fire
-- skipped for the quota.
UPDATE schedules SET quota_noticed_month = date_trunc('month', now() AT TIME ZONE 'UTC')::date
WHERE id = ANY(%(ids)s::uuid[])
  AND quota_noticed_month IS DISTINCT FROM date_trunc('month', now() AT TIME ZONE 'UTC')::date
RETURNING id, owner_id, name
