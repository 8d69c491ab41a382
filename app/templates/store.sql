-- Queries of app/templates/store.py. A template another user may not see is "not found" in every query:
-- visibility is part of each WHERE, never checked after loading.

-- visible_by_slug --
-- A template by slug as a user may see it in a space: the space's first, then the gallery (starters
-- before copies).
SELECT t.*, u.email AS owner_email FROM templates t LEFT JOIN users u ON u.id = t.owner_id
WHERE t.slug = %(slug)s AND t.deleted_at IS NULL
  AND (t.space_id = %(space_id)s OR t.visibility = 'gallery' OR %(operator)s
       OR (t.visibility = 'link' AND t.share_token IS NOT NULL
           AND EXISTS (SELECT 1 FROM template_link_views v WHERE v.template_id = t.id AND v.user_id = %(user_id)s)))
ORDER BY (t.space_id = %(space_id)s) DESC NULLS LAST, (t.owner_id IS NULL) DESC, t.id
LIMIT 1

-- visible_by_id --
-- A template by id as a user may see it in a space (the space's, the gallery, or a live share link
-- they opened).
SELECT t.*, u.email AS owner_email FROM templates t LEFT JOIN users u ON u.id = t.owner_id
WHERE t.id = %(id)s AND t.deleted_at IS NULL
  AND (t.space_id = %(space_id)s OR t.visibility = 'gallery' OR %(operator)s
       OR (t.visibility = 'link' AND t.share_token IS NOT NULL
           AND EXISTS (SELECT 1 FROM template_link_views v WHERE v.template_id = t.id AND v.user_id = %(user_id)s)))

-- own_for_update --
-- The space's template, locked: saves, restores and sharing changes are serialised per template.
SELECT * FROM templates WHERE id = %(id)s AND space_id = %(space_id)s AND deleted_at IS NULL FOR UPDATE

-- by_share_token --
-- The template a live share link names (a revoked link names nothing).
SELECT t.*, u.email AS owner_email FROM templates t LEFT JOIN users u ON u.id = t.owner_id
WHERE t.share_token = %(token)s AND t.visibility = 'link' AND t.deleted_at IS NULL

-- record_link_view --
-- Opening a share link puts the template in the person's "shared with me" list.
INSERT INTO template_link_views (template_id, user_id) VALUES (%(template_id)s, %(user_id)s)
ON CONFLICT (template_id, user_id) DO UPDATE SET seen_at = now()

-- slug_taken --
-- Whether the space (NULL: the starters) already has a live template with this slug.
SELECT 1 FROM templates WHERE coalesce(space_id, 0) = coalesce(%(space_id)s::bigint, 0) AND slug = %(slug)s
  AND deleted_at IS NULL

-- insert_template --
-- A new template and its first version in one statement.
WITH t AS (
    INSERT INTO templates (owner_id, space_id, slug, title, category, visibility, copied_from, published_at)
    VALUES (%(owner_id)s, %(space_id)s, %(slug)s, %(title)s, %(category)s, %(visibility)s, %(copied_from)s,
            CASE WHEN %(visibility)s = 'gallery' THEN now() END)
    RETURNING *
), v AS (
    INSERT INTO template_versions (template_id, version, document, created_by)
    SELECT id, 1, %(document)s, %(owner_id)s FROM t
)
SELECT * FROM t

-- insert_version --
-- A save: the next immutable version becomes current; runs in flight keep theirs.
WITH v AS (
    INSERT INTO template_versions (template_id, version, document, created_by)
    VALUES (%(id)s, %(version)s, %(document)s, %(user_id)s)
)
UPDATE templates SET current_version = %(version)s, title = %(title)s, category = %(category)s, updated_at = now()
WHERE id = %(id)s RETURNING *

-- replace_starter --
-- A starter whose shipped file changed gets a new version (start-up loading is idempotent otherwise).
WITH v AS (
    INSERT INTO template_versions (template_id, version, document)
    VALUES (%(id)s, %(version)s, %(document)s)
)
UPDATE templates SET current_version = %(version)s, title = %(title)s, category = %(category)s,
                     visibility = 'gallery', updated_at = now()
WHERE id = %(id)s RETURNING *

-- get_version --
-- One version's document (immutable).
SELECT template_id, version, document, created_by, created_at FROM template_versions
WHERE template_id = %(id)s AND version = %(version)s

-- list_versions --
-- A template's history, newest first, with who saved each.
SELECT v.version, v.created_at, u.email AS created_by FROM template_versions v
LEFT JOIN users u ON u.id = v.created_by WHERE v.template_id = %(id)s ORDER BY v.version DESC

-- list_mine --
-- The space's templates (a team's are its members'), recently changed first.
SELECT t.*, u.email AS owner_email FROM templates t LEFT JOIN users u ON u.id = t.owner_id
WHERE t.space_id = %(space_id)s AND t.deleted_at IS NULL ORDER BY t.updated_at DESC, t.id DESC

-- list_shared --
-- Templates others shared by link that this user opened, while the link lives.
SELECT t.*, u.email AS owner_email FROM templates t JOIN template_link_views v ON v.template_id = t.id
LEFT JOIN users u ON u.id = t.owner_id
WHERE v.user_id = %(user_id)s AND t.space_id IS DISTINCT FROM %(space_id)s AND t.visibility = 'link'
  AND t.share_token IS NOT NULL AND t.deleted_at IS NULL ORDER BY v.seen_at DESC

-- list_gallery --
-- The instance's gallery: starters first, then published templates, newest first.
SELECT t.*, u.email AS owner_email FROM templates t LEFT JOIN users u ON u.id = t.owner_id
WHERE t.visibility = 'gallery' AND t.deleted_at IS NULL
ORDER BY (t.owner_id IS NULL) DESC, t.published_at DESC NULLS LAST, t.id

-- list_all --
-- Every live template (an operator's view, the CLI without --as).
SELECT t.*, u.email AS owner_email FROM templates t LEFT JOIN users u ON u.id = t.owner_id
WHERE t.deleted_at IS NULL ORDER BY (t.owner_id IS NULL) DESC, u.email, t.slug

-- set_sharing --
-- Visibility and share link change together (revoking the link makes the template private again).
UPDATE templates SET visibility = %(visibility)s, share_token = %(token)s,
       published_at = CASE WHEN %(visibility)s = 'gallery' THEN coalesce(published_at, now()) END,
       updated_at = now()
WHERE id = %(id)s RETURNING *

-- unpublish --
-- An admin takes any template out of the gallery (it becomes private to its owner).
UPDATE templates SET visibility = 'private', published_at = NULL, updated_at = now()
WHERE id = %(id)s AND visibility = 'gallery' AND deleted_at IS NULL RETURNING *

-- soft_delete --
-- Deleting keeps the rows (runs still name their template) but hides it and frees the slug.
UPDATE templates SET deleted_at = now(), share_token = NULL, visibility = 'private'
WHERE id = %(id)s AND space_id = %(space_id)s AND deleted_at IS NULL RETURNING id

-- get_draft --
-- The builder's autosaved draft for this template (NULL: a new one).
SELECT document, updated_at FROM template_drafts
WHERE user_id = %(user_id)s AND coalesce(template_id, 0) = coalesce(%(template_id)s::bigint, 0)

-- put_draft --
-- Autosave replaces the draft.
INSERT INTO template_drafts (user_id, template_id, document) VALUES (%(user_id)s, %(template_id)s, %(document)s)
ON CONFLICT (user_id, coalesce(template_id, 0)) DO UPDATE SET document = EXCLUDED.document, updated_at = now()
RETURNING updated_at

-- delete_draft --
-- A save (or "discard") drops the draft.
DELETE FROM template_drafts WHERE user_id = %(user_id)s AND coalesce(template_id, 0) = coalesce(%(template_id)s::bigint, 0)

-- space_connectors --
-- The names of a space's connectors (validation checks publish blocks against them).
SELECT name FROM connectors WHERE space_id = %(space_id)s

-- personal_space --
-- The user's personal space (callers that name no space act there).
SELECT id FROM spaces WHERE personal_of = %(user_id)s

-- space_kind --
-- Whether a template's space is a team's (a role assignment needs one).
SELECT kind FROM spaces WHERE id = %(space_id)s

-- user_by_email --
-- The user the CLI's --as names.
SELECT id, email, is_admin FROM users WHERE email = lower(%(email)s)

-- run_template_version --
-- The template version a run started with (the interpreter loads it; versions never change).
-- A test run (template_test_runs) runs its kept draft instead; so does a rerun of one, however many
-- reruns deep (the nearest run up the rerun_of chain that kept a draft).
WITH RECURSIVE chain AS (
    SELECT id, rerun_of, 0 AS depth FROM runs WHERE id = %(run_id)s
    UNION ALL
    SELECT r.id, r.rerun_of, c.depth + 1 FROM runs r JOIN chain c ON r.id = c.rerun_of
    WHERE c.depth < 100
), kept AS (
    SELECT t.document FROM chain c JOIN template_test_runs t ON t.run_id = c.id
    ORDER BY c.depth LIMIT 1
)
SELECT coalesce((SELECT document FROM kept), v.document) AS document, r.template_id,
       r.template_version, EXISTS (SELECT 1 FROM kept) AS draft, now() AS loaded_at
FROM runs r
LEFT JOIN template_versions v ON v.template_id = r.template_id AND v.version = r.template_version
WHERE r.id = %(run_id)s AND coalesce((SELECT document FROM kept), v.document) IS NOT NULL

-- put_test_run --
-- The draft a builder's test run runs (it is not a version; the run loads it).
INSERT INTO template_test_runs (run_id, template_id, document)
VALUES (%(run_id)s, %(template_id)s, %(document)s) ON CONFLICT (run_id) DO NOTHING

-- attach_uploads --
-- A template run's file inputs become its files: only the starter's own uploads not yet used by a run.
UPDATE artifacts SET run_id = %(run_id)s
WHERE id = ANY(%(ids)s) AND owner_id = %(owner_id)s AND run_id IS NULL RETURNING id
