-- Queries of app/engine/mapping.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- insert_children --
-- A map's children: the first `concurrency` queued at once, the rest pending.
INSERT INTO run_children (run_id, seq, idx, status, item)
SELECT %(run_id)s, %(seq)s, i - 1, CASE WHEN i <= %(concurrency)s THEN 'queued' ELSE 'pending' END, item
FROM unnest(%(items)s::jsonb[]) WITH ORDINALITY AS t(item, i)

-- child_counts --
-- How many of a map's children are still open, failed, and in all.
SELECT count(*) FILTER (WHERE status IN ('pending', 'queued')) AS open,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) AS total
FROM run_children WHERE run_id = %(run_id)s AND seq = %(seq)s

-- child_results --
-- A map's children's results, in item order.
SELECT idx, status, output, error FROM run_children
WHERE run_id = %(run_id)s AND seq = %(seq)s ORDER BY idx

-- load_child --
-- One child with what it needs to run: its map's step, the run's state and owner.
SELECT c.*, s.detail, s.name AS map_name, r.status AS run_status, r.cancel_requested, r.owner_id
FROM run_children c
JOIN run_steps s ON s.run_id = c.run_id AND s.seq = c.seq
JOIN runs r ON r.id = c.run_id
WHERE c.run_id = %(run_id)s AND c.seq = %(seq)s AND c.idx = %(idx)s

-- lock_run --
-- Completions of one map are serialised on its journal row, so that each one counts the others'
-- committed results (the last one must see them all to wake the parent). The run's row is locked
-- first, as a cancel does (run row, then its children): a completion that took a child's row before
-- the run's would deadlock with a cancel landing in between.
SELECT 1 FROM runs WHERE id = %(run_id)s FOR NO KEY UPDATE

-- lock_map --
-- See lock_run: the map's journal row, locked after the run's.
SELECT 1 FROM run_steps WHERE run_id = %(run_id)s AND seq = %(seq)s FOR UPDATE

-- finish_child --
-- A child's result, once: only a queued child is finished.
UPDATE run_children SET status = %(status)s, output = %(output)s, error = %(error)s,
                        attempts = attempts + 1, completed_at = now()
WHERE run_id = %(run_id)s AND seq = %(seq)s AND idx = %(idx)s AND status = 'queued'
RETURNING idx

-- retry_child --
-- A failed child attempt that will be retried: counted, its error kept.
UPDATE run_children SET attempts = attempts + 1, error = %(error)s
WHERE run_id = %(run_id)s AND seq = %(seq)s AND idx = %(idx)s AND status = 'queued'
RETURNING attempts

-- next_pending --
-- A finished child makes room for the next pending one (under the map's concurrency limit).
UPDATE run_children SET status = 'queued'
WHERE (run_id, seq, idx) = (
    SELECT run_id, seq, idx FROM run_children
    WHERE run_id = %(run_id)s AND seq = %(seq)s AND status = 'pending'
    ORDER BY idx LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING idx

-- map_progress --
-- Progress of the fan-out is shown live on the run ("12/50 summarised"): the phase's own count, and
-- the overall percent from the phase's span that `run.progress` set before the map (never lower than
-- shown before: app/engine/progress.py). A rate-limit wait still ahead stays shown until the last child.
WITH counts AS (
    SELECT count(*) FILTER (WHERE status IN ('completed', 'failed')) AS done, count(*) AS total
    FROM run_children WHERE run_id = %(run_id)s AND seq = %(seq)s
), shown AS (
    SELECT coalesce((r.progress->'span'->>0)::numeric, 0) AS lo, coalesce((r.progress->'span'->>1)::numeric, 1) AS hi,
           coalesce((r.progress->>'percent')::numeric, 0) AS percent, r.progress->'span' AS span,
           CASE WHEN (r.progress->'rate_wait'->>'until')::timestamptz > now() THEN r.progress->'rate_wait' END AS rate_wait
    FROM runs r WHERE r.id = %(run_id)s
), upd AS (
    UPDATE runs SET progress = jsonb_strip_nulls(jsonb_build_object(
                        'done', counts.done, 'total', counts.total, 'label', %(label)s::text, 'span', shown.span,
                        'rate_wait', CASE WHEN counts.done < counts.total THEN shown.rate_wait END,
                        'percent', greatest(shown.percent,
                                            round(100 * (shown.lo + (shown.hi - shown.lo) * counts.done / greatest(counts.total, 1)), 1)))),
                    waiting_for = %(label)s || ' (' || counts.done || '/' || counts.total || ')',
                    updated_at = now()
    FROM counts, shown WHERE id = %(run_id)s
    RETURNING id, owner_id, progress, counts.done = counts.total AS finished
), ev AS (
    INSERT INTO run_events (run_id, owner_id, kind, data) SELECT id, owner_id, 'progress', progress FROM upd
)
SELECT finished FROM upd
