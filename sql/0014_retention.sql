-- Journals and events of finished runs are pruned after the retention period; the run row (with
-- its input, output, totals and hooks) stays, marked so pages can say why its timeline is empty.
ALTER TABLE runs ADD COLUMN journal_pruned_at timestamptz;
CREATE INDEX runs_finished_unpruned ON runs (completed_at)
    WHERE completed_at IS NOT NULL AND journal_pruned_at IS NULL;
