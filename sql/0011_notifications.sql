-- The bell: what happened that a user should know about (an approval is needed, a run completed
-- or failed). Written by engine signal callbacks in the engine's own transaction, each insert
-- announced to the user's browsers as {"kind": "notification.new"}. Owned by app/web/notifications.
CREATE TABLE notifications (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('approval_needed', 'review_expired', 'run_completed', 'run_failed')),
    title      text NOT NULL,
    url        text NOT NULL CHECK (url LIKE '/%'),
    run_id     uuid REFERENCES runs (id) ON DELETE CASCADE,
    hook_id    bigint REFERENCES hooks (id) ON DELETE CASCADE,
    read_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_recent ON notifications (user_id, id DESC);
CREATE INDEX notifications_user_unread ON notifications (user_id) WHERE read_at IS NULL;

CREATE FUNCTION baton_announce_notification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('baton_events', json_build_object(
        'kind', 'notification.new', 'user_id', NEW.user_id, 'notification_id', NEW.id)::text);
    RETURN NEW;
END $$;
CREATE TRIGGER notifications_announce AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION baton_announce_notification();
