"""A team's audit log names the trigger of every delivery's run, whether the sender gave an
`Idempotency-Key` or not (docs/teams.md, "Audit log"), and a delivery without a key is never taken
for a replay of an earlier one."""

from __future__ import annotations

from app.core.secrets_box import SecretBox
from app.triggers import store
from tests.integration.api.workflows import VISIBLE  # registers the echo workflow
from tests.support.teams import make_team
from tests.support.web import make_user


async def test_every_delivery_is_audited_with_its_trigger_key_or_not(
    app_client, pool, model_settings
):
    owner = await make_user(pool, tier="enterprise")
    team = await make_team(pool, owner.id)
    async with pool.connection() as conn:
        trigger, secret = await store.create_trigger(
            conn,
            owner.id,
            SecretBox.from_settings(model_settings),
            name="Nightly import",
            workflow=VISIBLE,
            mapping=None,
            auth_mode="bearer",
            space_id=team["id"],
        )
    url, body = f"/hooks/t/{trigger['id']}", {"topic": "night"}
    bearer = {"Authorization": f"Bearer {secret}"}
    keyless = [await app_client.post(url, json=body, headers=bearer) for _ in range(2)]
    keyed = await app_client.post(url, json=body, headers=bearer | {"Idempotency-Key": "k-1"})
    assert [r.status_code for r in (*keyless, keyed)] == [202, 202, 202], keyed.text
    run_ids = {r.json()["run_id"] for r in (*keyless, keyed)}
    assert len(run_ids) == 3  # two deliveries without a key are two runs

    async with pool.connection() as conn:
        entries = await (
            await conn.execute(
                "SELECT object_id, detail, actor_email FROM audit_log "
                "WHERE space_id = %s AND action = 'run.start'",
                (team["id"],),
            )
        ).fetchall()
    assert {e["object_id"] for e in entries} == run_ids
    for entry in entries:
        assert entry["detail"]["trigger_id"] == str(trigger["id"]), entry
        assert entry["actor_email"] == owner.email
