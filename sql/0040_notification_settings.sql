-- Who hears about what, and how (app/core/notify_prefs.py; edited at /settings/notifications).
-- One row per user and kind of notice once the user changed it; no row means the default
-- (DEFAULTS in notify_prefs.py), so existing users keep today's behaviour: a review needed and
-- its reminders arrive by e-mail, everything shows in the bell.
--   email   each   one mail per notice (skipped while the person is looking at it, see presence)
--           digest collected into one mail a day (mail_digests)
--           off    no mail
--   in_app  a notification in the bell
CREATE TABLE notification_prefs (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('review_needed', 'reminder', 'run_finished', 'run_failed')),
    email      text NOT NULL CHECK (email IN ('each', 'digest', 'off')),
    in_app     boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind)
);

-- The user's IANA time zone ("Europe/Berlin"); NULL means UTC. The daily digest goes out in it.
ALTER TABLE users ADD COLUMN IF NOT EXISTS time_zone text;

-- Open live pages (/live SSE streams): which page each shows, touched by its web process every
-- few seconds. A row whose seen_at is older than the expiry is a stream whose process died.
-- Any web process can answer "is this person looking at this run right now?". UNLOGGED: nothing
-- here must survive a database crash (every stream reconnects and registers again).
CREATE UNLOGGED TABLE presence (
    stream_id uuid PRIMARY KEY,
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    page      text NOT NULL,               -- the path: /chat/12, /workflows/<run id>, /approvals/7
    seen_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX presence_user_page ON presence (user_id, page);

-- RFC 8058 one-click unsubscribe: the signed URL a mail's List-Unsubscribe header carries.
ALTER TABLE mail_outbox ADD COLUMN unsubscribe_url text;

-- Notices waiting for the user's daily digest, and the digests sent: UNIQUE (user_id, day) makes
-- the digest go out once per user per local day, however many workers run the periodic job.
CREATE TABLE mail_digests (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day        date NOT NULL,              -- in the user's time zone
    mail_id    bigint REFERENCES mail_outbox (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, day)
);
CREATE TABLE digest_items (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    title      text NOT NULL,
    url        text NOT NULL,              -- absolute, for the mail
    digest_id  bigint REFERENCES mail_digests (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX digest_items_pending ON digest_items (user_id, id) WHERE digest_id IS NULL;

-- Reminders may show in the bell too.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('approval_needed', 'review_expired', 'review_reminder', 'run_completed', 'run_failed',
                    'run_stopped'));
