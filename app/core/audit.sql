-- Queries of app/core/audit.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- record --
-- One entry, in the caller's transaction: it is there exactly when the change it records is. The
-- actor's e-mail is copied so the entry still says who after the account is deleted.
INSERT INTO audit_log (space_id, actor_id, actor_email, action, object_kind, object_id, detail)
VALUES (%(space_id)s, %(actor_id)s,
        coalesce((SELECT email FROM users WHERE id = %(actor_id)s), ''),
        %(action)s, %(object_kind)s, %(object_id)s, %(detail)s)
