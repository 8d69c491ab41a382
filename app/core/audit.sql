-- Queries of app/core/audit.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- record --
-- One entry, in the caller's transaction: it is there exactly when the change it records is. The
-- actor's e-mail is copied so the entry still says who after the account is deleted.
INSERT INTO audit_log (space_id, actor_id, actor_email, action, object_kind, object_id, detail)
VALUES (%(space_id)s, %(actor_id)s,
        coalesce((SELECT email FROM users WHERE id = %(actor_id)s), ''),
        %(action)s, %(object_kind)s, %(object_id)s, %(detail)s)

-- record_many --
-- Many entries in one statement, as `record` writes each (a batch of runs started together).
INSERT INTO audit_log (space_id, actor_id, actor_email, action, object_kind, object_id, detail)
SELECT e.space_id, e.actor_id, coalesce(u.email, ''), e.action, e.object_kind, e.object_id, e.detail
FROM unnest(%(space_ids)b::bigint[], %(actor_ids)b::bigint[], %(actions)b::text[],
            %(object_kinds)b::text[], %(object_ids)b::text[], %(details)b::jsonb[])
     AS e(space_id, actor_id, action, object_kind, object_id, detail)
LEFT JOIN users u ON u.id = e.actor_id

-- entries --
-- A page of a space's log, newest first, with the reader's filters (each NULL: any); keyset paging
-- on (at, id) so a page deep in a long log costs what the first does (index audit_log_space_at).
SELECT id, actor_id, actor_email, action, object_kind, object_id, detail, at
FROM audit_log
WHERE space_id = %(space_id)s
  AND (%(action)s::text IS NULL OR action = %(action)s OR action LIKE %(action_prefix)s)
  AND (%(actor)s::text IS NULL OR lower(actor_email) = %(actor)s)
  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR at < %(until)s)
  AND (%(after_at)s::timestamptz IS NULL OR (at, id) < (%(after_at)s, %(after_id)s))
ORDER BY at DESC, id DESC
LIMIT %(limit)s
