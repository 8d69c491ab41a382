-- The first-run checklist (app/web/onboarding): when a person dismissed it, and when each of their
-- files was first downloaded (the checklist's "download the PDF" item reads it; nothing else does yet).
ALTER TABLE users ADD COLUMN checklist_dismissed_at timestamptz;
ALTER TABLE artifacts ADD COLUMN first_downloaded_at timestamptz;
