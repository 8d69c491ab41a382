-- Queries of app/engine/hooks.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- insert_hook --
-- A new approval (its token is the link's secret); returned whole for the caller's notice: the
-- columns of app/engine/rows.py `HookRow` (every column of hooks; `claim_reminder` too).
INSERT INTO hooks (run_id, seq, owner_id, token, name, kind, actions, show, assignee, assigned_role,
                   required, secret, expires_at, remind_at)
VALUES (%(run_id)s, %(seq)s, %(owner_id)s, %(token)s, %(name)s, %(kind)s, %(actions)s, %(show)s,
        %(assignee)s, %(assigned_role)s, %(required)s, %(secret)s, %(expires_at)s, %(remind_at)s)
RETURNING id, run_id, seq, owner_id, token, name, kind, status, actions, show, assignee, secret, action, response,
          decided_by, decided_at, expires_at, remind_at, reminded_at, created_at, assigned_role, required

-- claim_reminder --
-- The hook, once, if it still waits and was not reminded: the reminder callbacks run with it
-- (the columns of `HookRow`, as insert_hook returns them).
UPDATE hooks SET reminded_at = now()
WHERE id = %(id)s AND status = 'waiting' AND reminded_at IS NULL
RETURNING id, run_id, seq, owner_id, token, name, kind, status, actions, show, assignee, secret, action, response,
          decided_by, decided_at, expires_at, remind_at, reminded_at, created_at, assigned_role, required

-- run_space_kind --
-- A hook assigned to a role needs a team: the kind of the run's space (personal or team).
SELECT s.kind FROM runs r JOIN spaces s ON s.id = r.space_id WHERE r.id = %(run_id)s

-- expire_hook --
-- An approval that timed out, unless it was decided meanwhile.
UPDATE hooks SET status = 'expired' WHERE id = %(id)s AND status = 'waiting' RETURNING id

-- journal_entry --
-- A hook step's journal row, to replay its decision.
SELECT status, output FROM run_steps WHERE run_id = %(run_id)s AND seq = %(seq)s

-- lock_hook --
-- A decision locks the hook and its run (cancel and retry take the run's row too), so it is decided once.
SELECT h.*, r.status AS run_status, r.cancel_requested, r.space_id FROM hooks h JOIN runs r ON r.id = h.run_id
WHERE h.token = %(token)s FOR UPDATE OF h, r

-- insert_decision --
-- One person's decision, under the hook's lock, with how many different people have approved the
-- hook now (this one included: the count reads the rows as they were before the insert); nothing
-- when they already decided (a person counts once).
WITH ins AS (
    INSERT INTO hook_decisions (hook_id, user_id, decided_by, action, data, decided_at)
    VALUES (%(hook_id)s, %(user_id)s, %(decided_by)s, %(action)s, %(data)s, %(decided_at)s)
    ON CONFLICT (hook_id, decided_by) DO NOTHING
    RETURNING id, action
)
SELECT id, (SELECT count(*) FROM hook_decisions WHERE hook_id = %(hook_id)s AND action = 'approve')
           + CASE WHEN action = 'approve' THEN 1 ELSE 0 END AS approvals
FROM ins

-- decision_event --
-- One of several approvals needed came in: the run's page shows it (the run stays waiting).
INSERT INTO run_events (run_id, owner_id, kind, data)
VALUES (%(run_id)s, %(owner_id)s, 'hook_decision', %(event)s)

-- queue_run --
-- A decided hook, in one statement (one round trip of the decision's transaction: each one is
-- time between the decision and the run's next step, issue 14): the answer stored on the hook, its
-- journal entry completed with it, the run requeued (if it was waiting), its step counted and
-- billed, with an event, and its advance job queued at once (NOTIFY on commit).
-- The usage CTE is usage_monthly SQL (all of it is indexed in app/engine/quotas.py).
WITH decided AS (
    UPDATE hooks SET status = 'resolved', action = %(action)s, response = %(data)s,
                     decided_by = %(decided_by)s, decided_at = %(decided_at)s
    WHERE id = %(id)s
), step AS (
    -- The hook's step completes with the decision as its output, outside any advance.
    UPDATE run_steps SET status = 'completed', output = %(output)s, completed_at = now(), attempts = 1,
                         duration_ms = extract(epoch FROM now() - started_at) * 1000
    WHERE run_id = %(run_id)s AND seq = %(seq)s AND status = 'waiting'
), upd AS (
    UPDATE runs SET status = CASE WHEN status = 'waiting' THEN 'queued' ELSE status END,
                    waiting_for = NULL, wake_at = NULL, updated_at = now(),
                    steps_done = steps_done + 1, steps_billed = steps_billed + 1
    WHERE id = %(run_id)s RETURNING id, owner_id
), usage AS (
    INSERT INTO usage_monthly AS u (user_id, month, steps)
    SELECT owner_id, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 1 FROM upd
    ON CONFLICT (user_id, month) DO UPDATE SET steps = u.steps + 1
), ev AS (
    INSERT INTO run_events (run_id, owner_id, kind, data)
    SELECT id, owner_id, 'hook_resolved', %(event)s FROM upd
)
SELECT baton_wake_run(%(run_id)s, NULL) AS job

-- get_hook --
-- One hook as a decision left it, with how many approvals it has; the columns of
-- app/engine/rows.py `HookAfterDecision` (change both together).
SELECT h.id, h.run_id, h.seq, h.owner_id, h.token, h.name, h.kind, h.status, h.actions, h.show, h.assignee,
       h.assigned_role, h.required, h.action, h.response, h.decided_by, h.decided_at, h.expires_at,
       h.remind_at, h.reminded_at, h.created_at,
       (SELECT count(*) FROM hook_decisions d WHERE d.hook_id = h.id AND d.action = 'approve') AS approvals
FROM hooks h WHERE h.id = %(id)s

-- waiting_for_user --
-- The inbox: hooks waiting for this person in any space (not only the current one): unassigned
-- ones of runs they started (while their role there may decide), those assigned to their e-mail,
-- and those assigned to a role they hold in the run's space; not those they already approved.
-- Hooks past their expiry are about to be closed by their run's wake-up: not listed.
-- The columns of app/engine/rows.py `WaitingHook` (change both together).
SELECT h.id, h.name, h.created_at, h.expires_at, h.show->>'heading' AS heading, h.show->>'state' AS state,
       h.assignee, h.assigned_role, h.required, h.owner_id, u.email AS owner_email,
       (SELECT count(*) FROM hook_decisions d WHERE d.hook_id = h.id AND d.action = 'approve') AS approvals,
       r.id AS run_id, r.title AS run_title, r.workflow, r.version, r.chat_id, r.space_id,
       s.kind AS space_kind, s.name AS space_name, m.role AS my_role
FROM hooks h
JOIN runs r ON r.id = h.run_id
JOIN spaces s ON s.id = r.space_id
JOIN users u ON u.id = h.owner_id
LEFT JOIN space_members m ON m.space_id = r.space_id AND m.user_id = %(user_id)s
WHERE h.status = 'waiting' AND h.kind <> 'webhook'
  AND (h.expires_at IS NULL OR h.expires_at > now())
  AND coalesce(m.role, 'member') <> 'viewer'
  AND (
        (h.assignee IS NULL AND h.assigned_role IS NULL AND h.owner_id = %(user_id)s AND m.role IS NOT NULL)
     OR h.assignee = %(email)s
     OR (h.assigned_role IS NOT NULL
         AND array_position(ARRAY['viewer', 'member', 'admin', 'owner'], m.role)
             >= array_position(ARRAY['viewer', 'member', 'admin', 'owner'], h.assigned_role))
  )
  AND NOT EXISTS (SELECT 1 FROM hook_decisions d WHERE d.hook_id = h.id AND d.decided_by = %(email)s)
ORDER BY h.created_at DESC
LIMIT %(limit)s

-- hook_for_decider --
-- A hook by token (or id) with what the assignment rules need (`refusal`): the person's role in
-- its run's space (NULL: not a member) and e-mail, the space's name and the run owner's e-mail.
-- The columns of app/engine/rows.py `HookToDecide` (change both together).
SELECT h.id, h.run_id, h.token, h.name, h.kind, h.status, h.actions, h.show, h.assignee, h.assigned_role,
       h.required, h.owner_id, r.space_id, u.email AS owner_email, s.name AS space_name, m.role AS my_role,
       (SELECT me.email FROM users me WHERE me.id = %(user_id)s) AS my_email
FROM hooks h JOIN runs r ON r.id = h.run_id JOIN users u ON u.id = h.owner_id
JOIN spaces s ON s.id = r.space_id
LEFT JOIN space_members m ON m.space_id = r.space_id AND m.user_id = %(user_id)s
WHERE h.token = %(token)s OR h.id = %(hook_id)s
