-- A worker keeps a suspended run's journal in its process and, when the run resumes there, loads only
-- the positions after what it kept (app/engine/journal_cache.py, issue 14). What it kept is a prefix
-- of completed positions; the engine never changes a completed position, but a retry forgets
-- positions (commands.sql `forget_from`), a rerun edits one (`edit_step_output`) and retention prunes
-- journals. Each of those bumps `runs.journal_version`, and a kept prefix is used only while the
-- version is the one it was loaded at. Triggers, not the statements themselves, so that no future
-- writer can forget: appending a position and completing an open one (every step) fire nothing.
ALTER TABLE runs ADD COLUMN journal_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION baton_journal_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE runs SET journal_version = journal_version + 1
    WHERE id IN (SELECT DISTINCT run_id FROM gone);
    RETURN NULL;
END
$$;

-- Once per statement: a prune deletes whole journals, one update of each run, not one per row.
CREATE TRIGGER run_steps_deleted AFTER DELETE ON run_steps
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION baton_journal_deleted();

CREATE FUNCTION baton_journal_rewritten() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE runs SET journal_version = journal_version + 1 WHERE id = OLD.run_id;
    RETURN NULL;
END
$$;

-- Only a completed position changed (rare: a rerun's edited output); an open one completing is the
-- normal path and a kept prefix never holds open positions.
CREATE TRIGGER run_steps_rewritten AFTER UPDATE ON run_steps
    FOR EACH ROW WHEN (OLD.status = 'completed') EXECUTE FUNCTION baton_journal_rewritten();
