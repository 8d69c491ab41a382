-- What an artifact is to its run. 'output': a file the run produced, offered for download on the
-- run card (the default, so existing writers need no change). 'input': an upload the run works on
-- (a PDF, a CSV). 'internal': data a later step reads back (extracted text, a loaded table as
-- Parquet, chart images): kept out of the journal, which holds only their ids.
-- Written by app/steps/run_files.py.
ALTER TABLE artifacts ADD COLUMN role text NOT NULL DEFAULT 'output'
    CHECK (role IN ('output', 'input', 'internal'));
