-- Steps are added to the owner's monthly usage when a run suspends or finishes (and when a hook
-- is decided), not at every step: one busy user's concurrent runs would otherwise all queue on
-- that user's usage row. `steps_billed` is how many of `steps_done` usage already counts, so steps
-- of an advance that crashed are counted at the next suspension instead of being lost.
ALTER TABLE runs ADD COLUMN steps_billed int NOT NULL DEFAULT 0;
