-- The people a hook waits for, other than the run's owner (who hears of it through the run's own
-- events), are told live when it starts waiting, when someone decides it (one of several
-- approvals too) and when it stops waiting: {"kind": "approval.changed", "hook_id", "user_id"} on
-- baton_events, so their inbox and the nav's badge re-read (app/web/notifications/live.py).
-- Assigned by e-mail: that person's account, if any; assigned to a role: the members of the run's
-- space at that role or above.
CREATE FUNCTION baton_announce_hook() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    hid bigint;
BEGIN
    IF TG_TABLE_NAME = 'hooks' THEN
        hid := NEW.id;
    ELSE
        hid := NEW.hook_id;
    END IF;
    PERFORM pg_notify('baton_events', json_build_object(
        'kind', 'approval.changed', 'hook_id', hid, 'user_id', who.user_id)::text)
    FROM (
        SELECT u.id AS user_id FROM hooks h JOIN users u ON u.email = h.assignee
        WHERE h.id = hid AND u.id <> h.owner_id
        UNION
        SELECT m.user_id FROM hooks h JOIN runs r ON r.id = h.run_id
        JOIN space_members m ON m.space_id = r.space_id
        WHERE h.id = hid AND h.assigned_role IS NOT NULL AND m.user_id <> h.owner_id
          AND array_position(ARRAY['viewer', 'member', 'admin', 'owner'], m.role)
              >= array_position(ARRAY['viewer', 'member', 'admin', 'owner'], h.assigned_role)
    ) who;
    RETURN NULL;
END $$;
CREATE TRIGGER hooks_announce AFTER INSERT OR UPDATE OF status ON hooks
    FOR EACH ROW WHEN (NEW.kind <> 'webhook') EXECUTE FUNCTION baton_announce_hook();
CREATE TRIGGER hook_decisions_announce AFTER INSERT ON hook_decisions
    FOR EACH ROW EXECUTE FUNCTION baton_announce_hook();
