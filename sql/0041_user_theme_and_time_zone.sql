-- Each person's colour theme (NULL = follow the system setting), and their time zone (an IANA name
-- from their browser at sign-up, editable in settings; NULL = not set, shown as UTC) for every date
-- on pages and in their e-mails. 0040 may already have added time_zone (the digest's hour).
ALTER TABLE users ADD COLUMN theme text CHECK (theme IS NULL OR theme IN ('light', 'dark'));
ALTER TABLE users ADD COLUMN IF NOT EXISTS time_zone text;
