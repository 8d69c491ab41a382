-- Queries of app/engine/commands.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- lock_idempotency_keys --
-- Starts with the same (owner, idempotency key) take turns until their transactions end, so that the
-- second finds the first's run (`by_idempotency_keys`) instead of failing on the unique key: a
-- space without a quota no longer serialises its starts (app/engine/quotas.py `lock_spaces`). In
-- key order, so batches never wait on each other in a cycle.
SELECT pg_advisory_xact_lock(k)
FROM (SELECT DISTINCT hashtextextended('run_key:' || o || ':' || key, 0) AS k
      FROM unnest(%(owner_ids)s::bigint[], %(keys)s::text[]) AS a(o, key)) keys
ORDER BY k

-- by_idempotency_keys --
-- The runs earlier starts with the same (owner, idempotency key) created, if any (a retried POST,
-- a fire started twice, returns the first run). The columns of app/engine/rows.py `StartedRun`, as
-- insert_runs returns them (change the three together).
SELECT r.id, r.owner_id, r.chat_id, r.workflow, r.version, r.title, r.status, r.input, r.output, r.error,
       r.idempotency_key, r.waiting_for, r.wake_at, r.progress, r.cancel_requested, r.steps_done,
       r.tokens_in, r.tokens_out, r.cost_usd, r.created_at, r.started_at, r.updated_at, r.completed_at,
       r.deadline_at, r.cancel_reason, r.journal_pruned_at, r.steps_failed, r.steps_billed, r.template_id,
       r.template_version, r.schedule_id, r.fire_at, r.trigger_id, r.trigger_name, r.rerun_of, r.rerun_from,
       r.space_id
FROM runs r
JOIN unnest(%(owner_ids)s::bigint[], %(keys)s::text[]) AS k(owner_id, key)
  ON r.owner_id = k.owner_id AND r.idempotency_key = k.key

-- insert_runs --
-- New runs (ids chosen by the caller), each with its 'queued' event: one statement for any number
-- of runs. Their first jobs are `queue_new_runs`, their count in the month's usage and quota
-- `count_runs`, written last in the start's transaction (see there). Returns the columns of app/engine/rows.py `StartedRun`
-- (every column of runs, named, as by_idempotency_keys selects them).
WITH new AS (
    SELECT * FROM unnest(%(ids)b::uuid[], %(owner_ids)b::bigint[], %(space_ids)b::bigint[],
                         %(chat_ids)b::bigint[], %(workflows)b::text[], %(versions)b::int[],
                         %(titles)b::text[], %(inputs)b::jsonb[], %(keys)b::text[],
                         %(max_durations)b::interval[], %(template_ids)b::bigint[],
                         %(template_versions)b::int[], %(rerun_ofs)b::uuid[], %(rerun_froms)b::jsonb[],
                         %(schedule_ids)b::uuid[], %(fire_ats)b::timestamptz[])
        AS n(id, owner_id, space_id, chat_id, workflow, version, title, input, key, max_duration,
             template_id, template_version, rerun_of, rerun_from, schedule_id, fire_at)
), ins AS (
    INSERT INTO runs (id, owner_id, space_id, chat_id, workflow, version, title, input, idempotency_key,
                      deadline_at, template_id, template_version, rerun_of, rerun_from, schedule_id, fire_at)
    SELECT id, owner_id, space_id, chat_id, workflow, version, title, input, key, now() + max_duration,
           template_id, template_version, rerun_of, rerun_from, schedule_id, fire_at
    FROM new
    RETURNING id, owner_id, chat_id, workflow, version, title, status, input, output, error, idempotency_key,
              waiting_for, wake_at, progress, cancel_requested, steps_done, tokens_in, tokens_out, cost_usd,
              created_at, started_at, updated_at, completed_at, deadline_at, cancel_reason, journal_pruned_at,
              steps_failed, steps_billed, template_id, template_version, schedule_id, fire_at, trigger_id,
              trigger_name, rerun_of, rerun_from, space_id
), ev AS (
    INSERT INTO run_events (run_id, owner_id, kind, data)
    SELECT id, owner_id, 'status', '{"status": "queued"}' FROM ins
)
SELECT * FROM ins

-- queue_new_runs --
-- The first advance job of each run just inserted, in one statement (sql/0115: `baton_wake_run`
-- takes a subtransaction per run, which made a batch of fires spend as long queueing as inserting).
SELECT baton_queue_new_runs(%(run_ids)s::uuid[])

-- count_runs --
-- The started runs counted in their owners' usage this month and, unless `counted` is false (an
-- operator check), in their space's monthly run count (space_month_runs: the quota's count, read
-- under the space's lock). The usage CTE is usage_monthly SQL (all of it is indexed in
-- app/engine/quotas.py); the counts are added up per row first, as one statement may not update a
-- row twice. The last write of a start: these rows are shared by every start of the owner and the
-- space (and the owner's finishing runs bill their steps to the usage row), and are locked from
-- here to the commit, so the start holds them as briefly as it can; in id order, so that two
-- batches of overlapping owners do not lock them in a cycle.
WITH new AS (
    SELECT * FROM unnest(%(owner_ids)s::bigint[], %(space_ids)s::bigint[], %(counted)s::bool[])
        AS n(owner_id, space_id, counted)
), usage AS (
    INSERT INTO usage_monthly AS u (user_id, month, runs)
    SELECT owner_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, count(*) FROM new
    GROUP BY owner_id ORDER BY owner_id
    ON CONFLICT (user_id, month) DO UPDATE SET runs = u.runs + excluded.runs
)
INSERT INTO space_month_runs AS c (space_id, month, runs)
SELECT space_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, count(*) FROM new
WHERE counted GROUP BY space_id ORDER BY space_id
ON CONFLICT (space_id, month) DO UPDATE SET runs = c.runs + excluded.runs

-- journal_heads --
-- Where a rerun may start: every journal position of the run with its name, kind and state.
SELECT seq, name, kind, status FROM run_steps WHERE run_id = %(run_id)s ORDER BY seq

-- copy_journal --
-- A rerun reuses the original's journal rows before the position it executes from, as they are:
-- the engine replays them like its own (results returned, bodies not called).
INSERT INTO run_steps (run_id, seq, name, kind, status, attempts, output, error, detail, wake_at,
                       started_at, completed_at, duration_ms, model, tokens_in, tokens_out, cost_usd)
SELECT %(run_id)s, seq, name, kind, status, attempts, output, error, detail, wake_at,
       started_at, completed_at, duration_ms, model, tokens_in, tokens_out, cost_usd
FROM run_steps WHERE run_id = %(source_id)s AND seq < %(upto)s

-- copy_hooks --
-- ... and the hooks decided there (with new tokens: a token names one hook). Later hooks wait again.
INSERT INTO hooks (run_id, seq, owner_id, token, name, kind, status, actions, show, assignee, action,
                   response, decided_by, decided_at, expires_at, created_at)
SELECT %(run_id)s, seq, owner_id, replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
       name, kind, status, actions, show, assignee, action, response, decided_by, decided_at, expires_at, created_at
FROM hooks WHERE run_id = %(source_id)s AND seq < %(upto)s AND status <> 'waiting'

-- edit_step_output --
-- A rerun with an edited output takes the step as done with it (the original's attempt may have failed).
UPDATE run_steps SET status = 'completed', output = %(output)s, error = NULL, wake_at = NULL,
                     completed_at = coalesce(completed_at, now()), attempts = greatest(attempts, 1)
WHERE run_id = %(run_id)s AND seq = %(seq)s

-- count_reused --
-- Reused steps count as done but were billed to the original: neither counted nor billed again.
UPDATE runs SET steps_done = n, steps_billed = n
FROM (SELECT count(*)::int AS n FROM run_steps
      WHERE run_id = %(run_id)s AND kind NOT IN ('now', 'uuid') AND status = 'completed') AS reused
WHERE id = %(run_id)s

-- lock_run --
-- Commands on one run are serialised on its row (cancel, retry).
SELECT * FROM runs WHERE id = %(run_id)s FOR UPDATE

-- request_cancel --
-- Flags the run for cancellation; the advancing job sees the flag at its next step boundary.
WITH upd AS (
    UPDATE runs SET cancel_requested = true, cancel_reason = %(reason)s, updated_at = now()
    WHERE id = %(run_id)s RETURNING id, owner_id
)
INSERT INTO run_events (run_id, owner_id, kind, data)
SELECT id, owner_id, 'cancel_requested', jsonb_build_object('reason', %(reason)s::text) FROM upd

-- first_failed_step --
-- A retry starts again from the first failed step.
SELECT min(seq) AS seq FROM run_steps WHERE run_id = %(run_id)s AND status = 'failed'

-- forget_from --
-- A retry forgets the journal from the failed step on; earlier steps keep their results.
DELETE FROM run_steps WHERE run_id = %(run_id)s AND seq >= %(seq)s

-- forget_hooks_from --
-- A retry forgets the approvals from the failed step on, with their steps.
DELETE FROM hooks WHERE run_id = %(run_id)s AND seq >= %(seq)s

-- requeue --
-- A retried run goes back to 'queued', its error and output cleared, with a status event.
WITH upd AS (
    UPDATE runs SET status = 'queued', error = NULL, output = NULL, completed_at = NULL,
                    cancel_requested = false, cancel_reason = NULL, waiting_for = NULL, wake_at = NULL,
                    updated_at = now()
    WHERE id = %(run_id)s RETURNING id, owner_id
)
INSERT INTO run_events (run_id, owner_id, kind, data)
SELECT id, owner_id, 'status', '{"status": "queued", "retry": true}' FROM upd

-- get_run --
-- One run, with the name of the schedule that started it, the slug of the template it runs (if any)
-- the space it belongs to (shown on its page and card, in `runs show --json` and the API) and who started it.
-- Its columns are those of app/engine/rows.py `Run` (every column of runs, named: a new one is added to both).
-- `schedule_id` and `trigger_id` are null once that schedule or trigger is deleted (runs keep the
-- ids without a foreign key, sql/0137, so a delete never waits on a run being worked on).
SELECT r.id, r.owner_id, r.chat_id, r.workflow, r.version, r.title, r.status, r.input, r.output, r.error,
       r.idempotency_key, r.waiting_for, r.wake_at, r.progress, r.cancel_requested, r.steps_done,
       r.tokens_in, r.tokens_out, r.cost_usd, r.created_at, r.started_at, r.updated_at, r.completed_at,
       r.deadline_at, r.cancel_reason, r.journal_pruned_at, r.steps_failed, r.steps_billed, r.template_id,
       r.template_version, s.id AS schedule_id, r.fire_at, tr.id AS trigger_id, r.trigger_name, r.rerun_of,
       r.rerun_from, r.space_id, s.name AS schedule_name, t.slug AS template,
       sp.kind AS space_kind, sp.slug AS space_slug, sp.name AS space_name, u.email AS owner_email
FROM runs r LEFT JOIN schedules s ON s.id = r.schedule_id LEFT JOIN templates t ON t.id = r.template_id
LEFT JOIN triggers tr ON tr.id = r.trigger_id
JOIN spaces sp ON sp.id = r.space_id JOIN users u ON u.id = r.owner_id
WHERE r.id = %(run_id)s

-- run_steps --
-- A run's journal as people see it (journaled values, run.now and run.uuid, are not steps).
SELECT seq, name, kind, status, attempts, output, error, started_at, completed_at, duration_ms,
       model, tokens_in, tokens_out, cost_usd, wake_at, detail->'args' AS args
FROM run_steps WHERE run_id = %(run_id)s AND kind NOT IN ('now', 'uuid') ORDER BY seq

-- run_hooks --
-- A run's approvals, in step order, with who they are assigned to and each person's decision.
SELECT id, seq, token, name, kind, status, actions, show, assignee, action, response, decided_by,
       decided_at, expires_at, created_at, assigned_role, required,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('decided_by', d.decided_by, 'action', d.action,
                                                     'decided_at', d.decided_at) ORDER BY d.id), '[]')
        FROM hook_decisions d WHERE d.hook_id = hooks.id) AS decisions
FROM hooks WHERE run_id = %(run_id)s ORDER BY seq

-- list_runs --
-- Runs newest first, optionally filtered, keyset-paginated on (created_at, id) so pages never skip or repeat.
-- A space's runs (every member's; index runs_space_created) or an owner's, or everyone's for the operator.
SELECT r.id, r.workflow, r.version, r.title, r.status, r.waiting_for, r.progress, r.error, r.chat_id,
       r.created_at, r.started_at, r.completed_at, r.steps_done, r.cost_usd, r.schedule_id, r.fire_at,
       r.rerun_of, r.rerun_from, r.owner_id, r.space_id,
       sp.kind AS space_kind, sp.slug AS space_slug, sp.name AS space_name
FROM runs r JOIN spaces sp ON sp.id = r.space_id
WHERE (%(owner_id)s::bigint IS NULL OR r.owner_id = %(owner_id)s)
  AND (%(space_id)s::bigint IS NULL OR r.space_id = %(space_id)s)
  AND (%(status)s::text IS NULL OR r.status = %(status)s)
  AND (%(workflow)s::text IS NULL OR r.workflow = %(workflow)s)
  AND (%(after_ts)s::timestamptz IS NULL OR (r.created_at, r.id) < (%(after_ts)s, %(after_id)s::uuid))
ORDER BY r.created_at DESC, r.id DESC
LIMIT %(limit)s
