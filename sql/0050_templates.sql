-- Workflow templates (app/templates): a template is a JSON document a person edits in the browser; every
-- save is a new immutable version, and a run records the version it started with (editing never changes a
-- run in flight). Starters shipped with the instance have no owner and live in the gallery.
CREATE TABLE templates (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id        bigint REFERENCES users (id) ON DELETE CASCADE,   -- NULL: an instance starter
    slug            text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,59}$'),
    title           text NOT NULL,
    category        text NOT NULL DEFAULT 'General',
    visibility      text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'link', 'gallery')),
    share_token     text UNIQUE,                  -- set while a read-only share link exists
    current_version int NOT NULL DEFAULT 1,
    copied_from     bigint REFERENCES templates (id) ON DELETE SET NULL,
    published_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
-- A slug names one live template per owner (and one per starter); a deleted one frees its slug.
CREATE UNIQUE INDEX templates_owner_slug ON templates (coalesce(owner_id, 0), slug) WHERE deleted_at IS NULL;
CREATE INDEX templates_gallery ON templates (published_at DESC) WHERE visibility = 'gallery' AND deleted_at IS NULL;

CREATE TABLE template_versions (
    template_id bigint NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    version     int NOT NULL,
    document    jsonb NOT NULL,
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, version)
);

-- People who opened a template's share link: their "shared with me" list (until the link is revoked).
CREATE TABLE template_link_views (
    template_id bigint NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, user_id)
);

-- The builder's autosave: one unsaved draft per user per template (template_id NULL: a new template).
CREATE TABLE template_drafts (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    template_id bigint REFERENCES templates (id) ON DELETE CASCADE,
    document    jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX template_drafts_key ON template_drafts (user_id, coalesce(template_id, 0));

ALTER TABLE runs ADD COLUMN template_id bigint REFERENCES templates (id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN template_version int;
CREATE INDEX runs_template ON runs (template_id, created_at) WHERE template_id IS NOT NULL;
