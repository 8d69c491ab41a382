-- Each person's time zone (an IANA name from their browser at sign-up, editable in settings;
-- NULL = not set, shown as UTC) for every date on pages and in their e-mails, and their colour
-- theme (NULL = follow the system setting).
ALTER TABLE users ADD COLUMN time_zone text CHECK (time_zone IS NULL OR length(time_zone) BETWEEN 1 AND 64);
ALTER TABLE users ADD COLUMN theme text CHECK (theme IS NULL OR theme IN ('light', 'dark'));
