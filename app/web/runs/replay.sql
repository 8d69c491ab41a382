-- Queries of app/web/runs/replay.py, loaded by app.core.sql_queries when the module is imported.
-- Each query: a `-- name --` line, at least one `-- why` line, then the query (bound parameters only).

-- user_by_email --
-- An admin replays on behalf of the user with this address.
SELECT id, email FROM users WHERE email = lower(%(email)s)

-- owner_email --
-- Whose runs a replay replays, named on its page.
SELECT email FROM users WHERE id = %(id)s
