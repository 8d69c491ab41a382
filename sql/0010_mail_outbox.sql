-- Every mail Baton sends, written in the transaction of the change it announces (a hook starting
-- to wait, a reminder) and handed to the `baton.send_mail` job queued in that same transaction.
-- With SMTP_URL set the job sends it (status `sent`, or `failed` after its retries); without, the
-- mail stays here as `held` and administrators read it at /admin/outbox. Owned by app/core/mail.py.
CREATE TABLE mail_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL,               -- hook_waiting, hook_reminder, ...
    to_addr    text NOT NULL,
    subject    text NOT NULL,
    body_text  text NOT NULL,
    body_html  text,
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'held', 'failed')),
    attempts   int NOT NULL DEFAULT 0,
    error      text,
    user_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    run_id     uuid REFERENCES runs (id) ON DELETE SET NULL,
    hook_id    bigint REFERENCES hooks (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX mail_outbox_created ON mail_outbox (created_at DESC, id DESC);
