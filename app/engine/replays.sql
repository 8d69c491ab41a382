-- Queries of app/engine/replays.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- select_runs --
-- The runs a bulk replay would take, oldest first (the order they are replayed in); `limit` is
-- one more than a replay may hold, so the caller can tell "too many".
SELECT id, owner_id, workflow, version, title, status, error, created_at
FROM runs
WHERE workflow = %(workflow)s AND status = ANY(%(statuses)s::text[])
  AND (%(owner_id)s::bigint IS NULL OR owner_id = %(owner_id)s)
  AND (%(space_id)s::bigint IS NULL OR space_id = %(space_id)s)
  AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR created_at < %(until)s)
ORDER BY created_at, id
LIMIT %(limit)s

-- insert_replay --
-- A replay and its items (the selected runs, in order), in one statement.
WITH rep AS (
    INSERT INTO replays (requested_by, owner_id, workflow, statuses, since, until, from_step, total)
    VALUES (%(requested_by)s, %(owner_id)s, %(workflow)s, %(statuses)s, %(since)s, %(until)s, %(from_step)s,
            cardinality(%(sources)s::uuid[]))
    RETURNING *
), items AS (
    INSERT INTO replay_items (replay_id, position, source_id, owner_id)
    SELECT rep.id, s.position, s.source_id, s.owner_id
    FROM rep, unnest(%(sources)s::uuid[], %(owners)s::bigint[]) WITH ORDINALITY AS s (source_id, owner_id, position)
)
SELECT * FROM rep

-- lock_replay --
-- One pacing step at a time per replay, and a cancel waits for it.
SELECT * FROM replays WHERE id = %(replay_id)s FOR UPDATE

-- next_tick --
-- The pacing job about to be queued is the only one that may act (a stray duplicate exits).
UPDATE replays SET tick = tick + 1 WHERE id = %(replay_id)s RETURNING tick

-- worker_slots --
-- How many workers are alive now (their heartbeat is recent): the pace is a share of their slots.
SELECT count(*)::int AS workers FROM procrastinate_workers WHERE last_heartbeat > now() - interval '30 seconds'

-- in_flight --
-- The replay's new runs that hold (or wait for) a worker slot now; a run waiting for a person or
-- sleeping holds none.
SELECT count(*)::int AS n FROM replay_items i JOIN runs r ON r.id = i.new_run_id
WHERE i.replay_id = %(replay_id)s AND i.state = 'started' AND r.status IN ('queued', 'running')

-- pending_items --
-- The next runs to replay, in order.
SELECT position, source_id, owner_id FROM replay_items
WHERE replay_id = %(replay_id)s AND state = 'pending' ORDER BY position LIMIT %(limit)s

-- mark_item --
-- An item started (with its new run) or refused (quota, a run that no longer fits).
UPDATE replay_items SET state = %(state)s, new_run_id = %(new_run_id)s, message = %(message)s
WHERE replay_id = %(replay_id)s AND position = %(position)s

-- finish_replay --
-- A replay ends when every item has been started or refused (it does not wait for the runs).
UPDATE replays SET status = %(status)s, finished_at = now() WHERE id = %(replay_id)s AND status = 'running'
RETURNING id

-- skip_pending --
-- A cancelled replay starts nothing more: its pending items are skipped (started runs go on).
UPDATE replay_items SET state = 'skipped' WHERE replay_id = %(replay_id)s AND state = 'pending'

-- progress --
-- A replay's counts: items by state and its new runs by status.
SELECT count(*) FILTER (WHERE i.state = 'pending')::int AS pending,
       count(*) FILTER (WHERE i.state = 'started')::int AS started,
       count(*) FILTER (WHERE i.state = 'refused')::int AS refused,
       count(*) FILTER (WHERE i.state = 'skipped')::int AS skipped,
       count(*) FILTER (WHERE r.status = 'completed')::int AS completed,
       count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
       count(*) FILTER (WHERE r.status = 'cancelled')::int AS cancelled,
       count(*) FILTER (WHERE r.status IN ('queued', 'running', 'sleeping', 'waiting'))::int AS unfinished
FROM replay_items i LEFT JOIN runs r ON r.id = i.new_run_id
WHERE i.replay_id = %(replay_id)s

-- items --
-- A replay's items with their original and new runs, in order (the progress page's list).
SELECT i.position, i.source_id, i.owner_id, i.state, i.new_run_id, i.message, s.title, s.status AS source_status,
       r.status AS new_status
FROM replay_items i JOIN runs s ON s.id = i.source_id LEFT JOIN runs r ON r.id = i.new_run_id
WHERE i.replay_id = %(replay_id)s ORDER BY i.position LIMIT %(limit)s

-- get_replay --
-- One replay, visible to whoever asked for it, to the owner of its runs, and to admins.
SELECT * FROM replays WHERE id = %(replay_id)s
  AND (%(user_id)s::bigint IS NULL OR requested_by = %(user_id)s OR owner_id = %(user_id)s)

-- list_replays --
-- A person's recent replays (asked for by them or of their runs), newest first.
SELECT * FROM replays WHERE requested_by = %(user_id)s OR owner_id = %(user_id)s
ORDER BY created_at DESC LIMIT %(limit)s

-- announce --
-- Tells the pages following a replay (the requester's and the owner's) that it moved on.
SELECT pg_notify('baton_events', json_build_object('kind', 'replay.progress', 'replay_id', %(replay_id)s::bigint,
                                                   'user_id', u)::text)
FROM unnest(%(users)s::bigint[]) AS u
