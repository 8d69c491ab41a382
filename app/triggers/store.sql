-- Triggers and their deliveries (app/triggers/store.py). Every query a person's page or the API
-- runs is scoped to a space (space_id NULL: the acting person's personal space); only the delivery
-- endpoint looks a trigger up by id alone.

-- count_triggers --
-- How many triggers a person has, under their row lock (the cap holds under concurrent creates).
SELECT count(*) AS n FROM triggers WHERE owner_id = %(owner_id)s

-- lock_owner --
-- Serialises one person's trigger creations (NO KEY UPDATE: rows referencing the user need not wait).
SELECT id FROM users WHERE id = %(owner_id)s FOR NO KEY UPDATE

-- insert_trigger --
-- A new trigger, enabled.
INSERT INTO triggers (owner_id, space_id, name, workflow, template_id, mapping, auth_mode, secret, secret_hint, rate_per_minute)
VALUES (%(owner_id)s, %(space_id)s, %(name)s, %(workflow)s, %(template_id)s, %(mapping)s, %(auth_mode)s, %(secret)s, %(hint)s,
        %(rate_per_minute)s)
RETURNING *

-- list_triggers --
-- A space's triggers, newest first, each with its template's title (if it starts one) and its last delivery.
SELECT t.id, t.name, t.workflow, t.template_id, tp.title AS template_title, t.mapping, t.auth_mode, t.secret_hint,
       t.enabled, t.rate_per_minute, t.created_at, t.updated_at,
       d.at AS last_at, d.status AS last_status, d.run_id AS last_run_id
FROM triggers t
LEFT JOIN templates tp ON tp.id = t.template_id
LEFT JOIN LATERAL (SELECT at, status, run_id FROM trigger_deliveries
                   WHERE trigger_id = t.id ORDER BY id DESC LIMIT 1) d ON true
WHERE t.space_id = coalesce(%(space_id)s::bigint, (SELECT id FROM spaces WHERE personal_of = %(owner_id)s))
ORDER BY t.created_at DESC
LIMIT 500

-- get_trigger --
-- One of a space's triggers.
SELECT * FROM triggers WHERE id = %(id)s AND space_id = coalesce(%(space_id)s::bigint, (SELECT id FROM spaces WHERE personal_of = %(owner_id)s))

-- trigger_for_delivery --
-- The enabled trigger a delivery names (a disabled one, or one of a disabled account, answers as if
-- it did not exist).
SELECT t.* FROM triggers t JOIN users u ON u.id = t.owner_id
WHERE t.id = %(id)s AND t.enabled AND u.disabled_at IS NULL

-- update_trigger --
-- Name, target, mapping and rate of one of a space's triggers (the secret changes only by rotation).
UPDATE triggers SET name = %(name)s, workflow = %(workflow)s, template_id = %(template_id)s, mapping = %(mapping)s,
                    rate_per_minute = %(rate_per_minute)s, updated_at = now()
WHERE id = %(id)s AND space_id = coalesce(%(space_id)s::bigint, (SELECT id FROM spaces WHERE personal_of = %(owner_id)s))
RETURNING *

-- set_enabled --
-- Turns one of a space's triggers on or off.
UPDATE triggers SET enabled = %(enabled)s, updated_at = now()
WHERE id = %(id)s AND space_id = coalesce(%(space_id)s::bigint, (SELECT id FROM spaces WHERE personal_of = %(owner_id)s))
RETURNING *

-- rotate_secret --
-- A new secret (and possibly a new mode): the old one stops working at once.
UPDATE triggers SET auth_mode = %(auth_mode)s, secret = %(secret)s, secret_hint = %(hint)s, updated_at = now()
WHERE id = %(id)s AND space_id = coalesce(%(space_id)s::bigint, (SELECT id FROM spaces WHERE personal_of = %(owner_id)s))
RETURNING *

-- delete_trigger --
-- Deletes one of a space's triggers and its deliveries; its runs keep the trigger's name.
DELETE FROM triggers WHERE id = %(id)s AND space_id = coalesce(%(space_id)s::bigint, (SELECT id FROM spaces WHERE personal_of = %(owner_id)s))
RETURNING id, space_id, name

-- record_delivery --
-- One delivery and what it was answered.
INSERT INTO trigger_deliveries (trigger_id, status, run_id, replayed, message)
VALUES (%(trigger_id)s, %(status)s, %(run_id)s, %(replayed)s, %(message)s)
RETURNING id

-- trim_deliveries --
-- Keeps the newest deliveries of a trigger only: a flood of refused posts cannot grow the table.
DELETE FROM trigger_deliveries
WHERE trigger_id = %(trigger_id)s
  AND id <= (SELECT id FROM trigger_deliveries WHERE trigger_id = %(trigger_id)s
             ORDER BY id DESC OFFSET %(keep)s LIMIT 1)

-- list_deliveries --
-- A trigger's last deliveries, newest first, with the state of each run they started.
SELECT d.id, d.at, d.status, d.run_id, d.replayed, d.message, r.status AS run_status, r.title AS run_title
FROM trigger_deliveries d LEFT JOIN runs r ON r.id = d.run_id
WHERE d.trigger_id = %(trigger_id)s
ORDER BY d.id DESC
LIMIT %(limit)s

-- mark_run --
-- Records on a run the trigger that started it (in the transaction that started it).
UPDATE runs SET trigger_id = %(trigger_id)s, trigger_name = %(trigger_name)s WHERE id = %(run_id)s
