-- A run the system stopped (it outlived its workflow's maximum duration) is news for its owner.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('approval_needed', 'review_expired', 'run_completed', 'run_failed', 'run_stopped'));
