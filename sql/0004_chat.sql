-- Conversations and their messages. Owned by app/web/chat.

CREATE TABLE conversations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- The sidebar: one user's conversations, most recently active first, paged by (updated_at, id).
CREATE INDEX conversations_user_recent_idx ON conversations (user_id, updated_at DESC, id DESC);

-- A reply is written while it streams: `streaming` rows are flushed every half second by the
-- process generating them (updated_at doubles as its heartbeat), then finish as done, stopped
-- (the user pressed Stop; the text so far is kept) or error (`error` says why, for the user).
CREATE TABLE messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('user', 'assistant')),
    content         text NOT NULL DEFAULT '',
    html            text,   -- sanitized rendering of a finished reply, rendered once
    status          text NOT NULL DEFAULT 'done'
                    CHECK (status IN ('streaming', 'done', 'stopped', 'error')),
    error           text,
    model           text,
    tokens_in       int,
    tokens_out      int,
    stop_requested  boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);
