-- Queries of app/templates/stats.py: the admin overview's template figures.

-- runs_per_template --
-- Template runs started in the period, per template (its current slug and title), most used first.
-- A builder's test run (of a draft: no version, it and its reruns) is counted apart, not as a run.
SELECT t.id, t.slug, t.title, u.email AS owner_email,
       count(*) FILTER (WHERE r.template_version IS NOT NULL) AS runs,
       count(*) FILTER (WHERE r.template_version IS NOT NULL AND r.status = 'completed') AS completed,
       count(*) FILTER (WHERE r.template_version IS NULL) AS test_runs
FROM runs r JOIN templates t ON t.id = r.template_id LEFT JOIN users u ON u.id = t.owner_id
WHERE r.created_at >= %(start)s AND r.created_at < %(end)s
GROUP BY t.id, t.slug, t.title, u.email ORDER BY runs DESC, test_runs DESC, t.slug LIMIT 20

-- sharing_users --
-- The brief's metric: of all users, how many published or link-shared a template of theirs, or used
-- (copied or ran) a template someone else shared. Counted over all time; a test run of a draft is
-- not a use.
WITH sharers AS (
    SELECT owner_id AS user_id FROM templates
    WHERE owner_id IS NOT NULL AND deleted_at IS NULL AND (visibility IN ('link', 'gallery') OR published_at IS NOT NULL)
    UNION
    SELECT c.owner_id FROM templates c JOIN templates s ON s.id = c.copied_from
    WHERE c.owner_id IS NOT NULL AND s.owner_id IS DISTINCT FROM c.owner_id
    UNION
    SELECT r.owner_id FROM runs r JOIN templates t ON t.id = r.template_id
    WHERE t.owner_id IS DISTINCT FROM r.owner_id AND r.template_version IS NOT NULL
)
SELECT (SELECT count(*) FROM users WHERE disabled_at IS NULL) AS users,
       (SELECT count(*) FROM sharers JOIN users u ON u.id = sharers.user_id WHERE u.disabled_at IS NULL) AS sharing
