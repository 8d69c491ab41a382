-- Admin analytics without reading every run of the period (docs/benchmarks.md, "The month's
-- scale"). Finished runs are folded per (UTC day of creation, workflow) and per (day, owner) once
-- finished for a while (app/engine/analytics_fold.py, driven by each worker's recovery sweep); the
-- page adds the runs the fold does not hold (unfinished, finished since the fold's position, and
-- the runs of a period's partial edge days), read live (app/web/analytics/store.sql).
CREATE TABLE analytics_rollup (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- keyset position on runs_completed_at: every run with (completed_at, id) up to here is folded
    rolled_at  timestamptz NOT NULL DEFAULT '1970-01-01 00:00:00+00',
    rolled_id  uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000'
);
INSERT INTO analytics_rollup DEFAULT VALUES;

CREATE TABLE analytics_days (
    day           date NOT NULL,
    workflow      text NOT NULL,
    runs          bigint NOT NULL,
    completed     bigint NOT NULL,
    failed        bigint NOT NULL,
    cancelled     bigint NOT NULL,
    steps         bigint NOT NULL,
    steps_failed  bigint NOT NULL,
    cost_usd      numeric NOT NULL,
    tokens        bigint NOT NULL,
    PRIMARY KEY (day, workflow)
);

-- One row per user and day they started a run that finished: at most the month's runs, narrow.
CREATE TABLE analytics_owner_days (
    day       date NOT NULL,
    owner_id  bigint NOT NULL,
    runs      bigint NOT NULL,
    cost_usd  numeric NOT NULL,
    tokens    bigint NOT NULL,
    PRIMARY KEY (day, owner_id)
);

-- The unfinished runs of a period, read live. completed_at changes only when status does (a
-- finish, a retry), which already updates runs_unfinished, so this costs no HOT update.
CREATE INDEX runs_unfinished_created ON runs (created_at) WHERE completed_at IS NULL;

-- A folded run that changes (a failed run retried: commands.sql sets completed_at = NULL; a run
-- deleted with its owner) leaves the fold here, and comes back in if it is still folded after the
-- change. It locks the position FOR SHARE so a fold in progress finishes first and a fold cannot
-- start in between (the fold takes the position FOR UPDATE before reading the runs).
CREATE FUNCTION analytics_unfold() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pos analytics_rollup%ROWTYPE;
    old_in boolean;
    new_in boolean;
    sign int;
    r runs%ROWTYPE;
BEGIN
    SELECT * INTO pos FROM analytics_rollup FOR SHARE;
    old_in := (OLD.completed_at, OLD.id) <= (pos.rolled_at, pos.rolled_id);
    new_in := TG_OP = 'UPDATE' AND NEW.completed_at IS NOT NULL
              AND (NEW.completed_at, NEW.id) <= (pos.rolled_at, pos.rolled_id);
    IF NOT old_in AND NOT new_in THEN
        RETURN NULL;
    END IF;
    -- Folded before and after with the same figures (only its completed_at moved): nothing to do.
    IF old_in AND new_in
       AND ((OLD.created_at AT TIME ZONE 'UTC')::date, OLD.workflow, OLD.owner_id, OLD.status,
            OLD.steps_done, OLD.steps_failed, OLD.cost_usd, OLD.tokens_in + OLD.tokens_out)
           IS NOT DISTINCT FROM
           ((NEW.created_at AT TIME ZONE 'UTC')::date, NEW.workflow, NEW.owner_id, NEW.status,
            NEW.steps_done, NEW.steps_failed, NEW.cost_usd, NEW.tokens_in + NEW.tokens_out) THEN
        RETURN NULL;
    END IF;
    FOR i IN 1..2 LOOP
        IF i = 1 THEN
            CONTINUE WHEN NOT old_in;
            r := OLD; sign := -1;
        ELSE
            EXIT WHEN NOT new_in;
            r := NEW; sign := 1;
        END IF;
        INSERT INTO analytics_days AS d (day, workflow, runs, completed, failed, cancelled, steps,
                                         steps_failed, cost_usd, tokens)
        VALUES ((r.created_at AT TIME ZONE 'UTC')::date, r.workflow, sign,
                sign * (r.status = 'completed')::int, sign * (r.status = 'failed')::int,
                sign * (r.status = 'cancelled')::int, sign * r.steps_done, sign * r.steps_failed,
                sign * r.cost_usd, sign * (r.tokens_in + r.tokens_out))
        ON CONFLICT (day, workflow) DO UPDATE SET
            runs = d.runs + EXCLUDED.runs, completed = d.completed + EXCLUDED.completed,
            failed = d.failed + EXCLUDED.failed, cancelled = d.cancelled + EXCLUDED.cancelled,
            steps = d.steps + EXCLUDED.steps, steps_failed = d.steps_failed + EXCLUDED.steps_failed,
            cost_usd = d.cost_usd + EXCLUDED.cost_usd, tokens = d.tokens + EXCLUDED.tokens;
        INSERT INTO analytics_owner_days AS o (day, owner_id, runs, cost_usd, tokens)
        VALUES ((r.created_at AT TIME ZONE 'UTC')::date, r.owner_id, sign, sign * r.cost_usd,
                sign * (r.tokens_in + r.tokens_out))
        ON CONFLICT (day, owner_id) DO UPDATE SET
            runs = o.runs + EXCLUDED.runs, cost_usd = o.cost_usd + EXCLUDED.cost_usd,
            tokens = o.tokens + EXCLUDED.tokens;
    END LOOP;
    -- A user whose every folded run left is no longer active in those days.
    DELETE FROM analytics_owner_days
    WHERE day = (OLD.created_at AT TIME ZONE 'UTC')::date AND owner_id = OLD.owner_id AND runs = 0;
    DELETE FROM analytics_days
    WHERE day = (OLD.created_at AT TIME ZONE 'UTC')::date AND workflow = OLD.workflow AND runs = 0;
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_analytics_unfold_update AFTER UPDATE ON runs FOR EACH ROW
WHEN (OLD.completed_at IS NOT NULL
      AND (OLD.completed_at, OLD.created_at, OLD.workflow, OLD.owner_id, OLD.status, OLD.steps_done,
           OLD.steps_failed, OLD.cost_usd, OLD.tokens_in, OLD.tokens_out)
          IS DISTINCT FROM
          (NEW.completed_at, NEW.created_at, NEW.workflow, NEW.owner_id, NEW.status, NEW.steps_done,
           NEW.steps_failed, NEW.cost_usd, NEW.tokens_in, NEW.tokens_out))
EXECUTE FUNCTION analytics_unfold();

CREATE TRIGGER runs_analytics_unfold_delete AFTER DELETE ON runs FOR EACH ROW
WHEN (OLD.completed_at IS NOT NULL)
EXECUTE FUNCTION analytics_unfold();
