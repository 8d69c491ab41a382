-- Cost and usage accounting, and each run's deadline. Owned by app/engine (writes) and
-- app/web/admin (price editing, analytics).

-- Prices per 1,000 tokens, editable by admins; a model step's cost is computed from them when the
-- step is journaled. Unknown models cost 0 until an admin prices them.
CREATE TABLE model_prices (
    model          text PRIMARY KEY,
    input_per_1k   numeric(12, 6) NOT NULL DEFAULT 0 CHECK (input_per_1k >= 0),
    output_per_1k  numeric(12, 6) NOT NULL DEFAULT 0 CHECK (output_per_1k >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO model_prices (model, input_per_1k, output_per_1k) VALUES
    ('gpt-4o-mini', 0.00015, 0.0006),
    ('gpt-4o', 0.0025, 0.01),
    ('gpt-4.1-mini', 0.0004, 0.0016),
    ('offline-demo', 0, 0);

-- Usage per user per calendar month (UTC), updated in the same transaction as the work it counts.
CREATE TABLE usage_monthly (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month      date NOT NULL,
    runs       int NOT NULL DEFAULT 0,
    steps      bigint NOT NULL DEFAULT 0,
    tokens_in  bigint NOT NULL DEFAULT 0,
    tokens_out bigint NOT NULL DEFAULT 0,
    cost_usd   numeric(14, 6) NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, month)
);
CREATE INDEX usage_monthly_month ON usage_monthly (month);

-- A run still unfinished at its deadline is cancelled by the sweep (max run duration per workflow).
ALTER TABLE runs ADD COLUMN deadline_at timestamptz;
ALTER TABLE runs ADD COLUMN cancel_reason text;
CREATE INDEX runs_deadline ON runs (deadline_at) WHERE status IN ('queued', 'running', 'sleeping', 'waiting');
-- Admin analytics read runs by time across all users.
CREATE INDEX runs_created ON runs (created_at);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at DESC);
