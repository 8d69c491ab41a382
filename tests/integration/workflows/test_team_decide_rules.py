"""Issue 20: the JSON API and `baton hooks resolve --as` decide a hook under exactly the approvals
page's rules (app/engine/hooks.py `refusal`): a hook assigned to someone else, or to a role the
caller does not hold, is refused with 403 (the CLI: exit status 1 and the reason) even to the run's
owner; someone who may not see it gets 404; the one it waits for decides it."""

from __future__ import annotations

from app.web.auth import api_keys as keys
from tests.integration.baton_process import run_baton
from tests.integration.workflows.test_team_approvals import start_review
from tests.support.teams import make_team_of
from tests.support.web import make_user as make_account


async def _key(pool, user_id: int, space_id: int | None = None) -> dict:
    async with pool.connection() as conn:
        key, _ = await keys.create_key(conn, user_id, "decide", space_id=space_id)
    return {"Authorization": f"Bearer {key}"}


async def _status(pool, hook_id: int) -> str:
    async with pool.connection() as conn:
        row = await (
            await conn.execute("SELECT status FROM hooks WHERE id = %s", (hook_id,))
        ).fetchone()
    return row["status"]


async def test_the_api_refuses_the_owner_a_hook_assigned_to_someone_else(app_client, pool, worker):
    owner, boss = await make_account(pool, tier="pro"), await make_account(pool, tier="pro")
    stranger = await make_account(pool, tier="pro")
    hook = await start_review(pool, owner.id, assignee=boss.email)
    url, body = f"/api/v1/hooks/{hook['token']}", {"action": "approve"}

    refused = await app_client.post(url, json=body, headers=await _key(pool, owner.id))
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    assert f"This is assigned to {boss.email}." in refused.text
    hidden = await app_client.post(url, json=body, headers=await _key(pool, stranger.id))
    assert hidden.status_code == 404, hidden.text
    assert await _status(pool, hook["id"]) == "waiting"

    decided = await app_client.post(url, json=body, headers=await _key(pool, boss.id))
    assert decided.status_code == 200, decided.text
    assert await _status(pool, hook["id"]) == "resolved"


async def test_the_api_applies_a_role_assignment_in_a_team(app_client, pool, worker):
    people = {r: await make_account(pool, tier="pro") for r in ("owner", "admin", "member")}
    space = await make_team_of(pool, {people[r].id: r for r in people}, name="Acme")
    hook = await start_review(pool, people["member"].id, space["id"], assign_role="admin")
    url, body = f"/api/v1/hooks/{hook['token']}", {"action": "approve"}
    member = await _key(pool, people["member"].id, space["id"])
    refused = await app_client.post(url, json=body, headers=member)
    assert refused.status_code == 403 and "you are a member there" in refused.text
    admin = await _key(pool, people["admin"].id, space["id"])
    assert (await app_client.post(url, json=body, headers=admin)).status_code == 200


async def test_the_cli_as_a_user_applies_the_same_rules(pool, worker, database_url, tmp_path):
    owner, boss = await make_account(pool, tier="pro"), await make_account(pool, tier="pro")
    hook = await start_review(pool, owner.id, assignee=boss.email)
    env = {"DATABASE_URL": database_url, "BATON_DATA_DIR": str(tmp_path / "data")}

    def resolve(email: str):
        return run_baton(
            "hooks",
            "resolve",
            hook["token"],
            "--action",
            "approve",
            "--as",
            email,
            cwd=tmp_path,
            **env,
        )

    refused = resolve(owner.email)
    assert refused.returncode != 0 and f"This is assigned to {boss.email}." in refused.stderr
    assert await _status(pool, hook["id"]) == "waiting"
    decided = resolve(boss.email)
    assert decided.returncode == 0, decided.stderr
    assert await _status(pool, hook["id"]) == "resolved"


async def test_the_owners_card_says_who_a_hook_assigned_to_someone_else_waits_for(
    app_client, pool, worker
):
    from tests.support.web import log_in

    owner, boss = await make_account(pool, tier="pro"), await make_account(pool, tier="pro")
    hook = await start_review(pool, owner.id, assignee=boss.email)
    assert (await log_in(app_client, owner.email)).status_code == 303
    card = await app_client.get(f"/chat/runs/{hook['run_id']}/card")
    assert card.status_code == 200, card.text[:300]
    assert 'name="action"' not in card.text  # no form for someone it does not wait for
    assert f"Waits for <strong>{boss.email}</strong>" in card.text
    assert f'href="/approvals/{hook["id"]}"' in card.text

    unassigned = await start_review(pool, owner.id)  # the owner's own: the form, as before
    mine = await app_client.get(f"/chat/runs/{unassigned['run_id']}/card")
    assert 'name="action"' in mine.text


async def test_an_admin_decides_a_team_review_from_the_runs_card(app_client, pool, worker):
    from tests.support.team_runs import use_space
    from tests.support.web import csrf_of, log_in

    people = {r: await make_account(pool, tier="pro") for r in ("owner", "admin", "member")}
    space = await make_team_of(pool, {people[r].id: r for r in people}, name="Acme")
    hook = await start_review(pool, people["member"].id, space["id"], assign_role="admin")
    assert (await log_in(app_client, people["admin"].email)).status_code == 303
    await use_space(pool, people["admin"].id, space["id"])
    card = await app_client.get(f"/chat/runs/{hook['run_id']}/card")
    assert card.status_code == 200 and 'name="action"' in card.text
    csrf = csrf_of((await app_client.get("/chat")).text)
    decided = await app_client.post(
        f"/approvals/{hook['id']}",
        data={"action": "approve", "view": "card"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert decided.status_code == 200, decided.text[:300]
    assert 'class="run-card' in decided.text or "run-steps" in decided.text  # the card, updated
    assert await _status(pool, hook["id"]) == "resolved"
