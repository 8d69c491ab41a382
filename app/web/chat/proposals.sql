-- Queries of app/web/chat/proposals.py: the saved templates offered to the model with each reply.

-- offerable --
-- The saved templates the model may offer a user in a space (NULL: their personal space), as
-- store.list_templates orders them: the space's (recently changed first), then the gallery's
-- (starters first). Each comes with its current version and a hash of that version's document, so
-- the document is sent and parsed only when this process has not parsed that content yet.
WITH space AS (
    SELECT coalesce(%(space_id)s::bigint,
                    (SELECT id FROM spaces WHERE personal_of = %(user_id)s)) AS id
), ranked AS (
    SELECT t.id, t.slug, t.current_version,
           row_number() OVER (ORDER BY coalesce(t.space_id = s.id, false) DESC,
                              CASE WHEN t.space_id = s.id THEN t.updated_at END DESC,
                              CASE WHEN t.space_id = s.id THEN t.id END DESC,
                              (t.owner_id IS NULL) DESC, t.published_at DESC NULLS LAST, t.id) AS place
    FROM templates t CROSS JOIN space s
    WHERE t.deleted_at IS NULL AND (t.space_id = s.id OR t.visibility = 'gallery')
), chosen AS (
    -- The model names a template by its slug: a gallery template with the slug of one of the
    -- space's (or of an earlier gallery one) could never be chosen, so it is not offered.
    SELECT * FROM (SELECT r.*, row_number() OVER (PARTITION BY r.slug ORDER BY r.place) AS nth
                   FROM ranked r) firsts
    WHERE nth = 1
    ORDER BY place LIMIT %(limit)s
)
SELECT c.id, c.slug, c.current_version AS version,
       encode(sha256(convert_to(v.document::text, 'UTF8')), 'hex') AS document_key
FROM chosen c JOIN template_versions v ON v.template_id = c.id AND v.version = c.current_version
ORDER BY c.place

-- offered_documents --
-- The documents of versions this process has not parsed yet, hashed as `offerable` hashes them.
SELECT v.template_id, v.document,
       encode(sha256(convert_to(v.document::text, 'UTF8')), 'hex') AS document_key
FROM template_versions v
JOIN unnest(%(ids)s::bigint[], %(versions)s::int[]) AS w (id, version)
  ON v.template_id = w.id AND v.version = w.version
