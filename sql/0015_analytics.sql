-- Admin analytics read counters kept on the run row instead of scanning the journal.
ALTER TABLE runs ADD COLUMN steps_failed int NOT NULL DEFAULT 0;
CREATE INDEX hooks_created ON hooks (created_at);
