"""The world the route-authorization walk (tests/integration/teams/test_route_authorization.py) probes:
team A with an owner, a viewer, a removed member and a revoked invitation; an outsider who owns
team B; and team A's things (a run, a hook, a file, a template, a schedule, a trigger, a connector,
a replay, a notification, a conversation, an API key), each carrying one unique marker string that
no response to anyone outside team A may ever contain.

Things are made through the API as the owner where that is the product's own path, then put in team A
by their `space_id` (so the walk probes team A's things whatever the creating code does)."""

from __future__ import annotations

import copy
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.engine import commands
from tests.integration.templates.test_template_runs import REPORT
from tests.support.teams import make_team, space_key
from tests.support.web import csrf_of, log_in, make_user


@dataclass
class Persona:
    """Someone who asks: a browser session (its cookie and CSRF token) and an API key."""

    name: str
    user_id: int | None = None
    email: str = ""
    cookies: dict = field(default_factory=dict)  # the browser's cookies (its session)
    csrf: str = ""
    key: str | None = None


@dataclass
class World:
    marker: str
    team_a: dict
    team_b: dict
    owner: Persona
    viewer: Persona
    removed: Persona
    outsider: Persona
    invitee: Persona  # has an account, holds the revoked invitation's link
    anonymous: Persona
    ids: dict = field(default_factory=dict)  # the placeholders of the table's URLs


async def _session(pool, client, persona: Persona, space_id: int | None) -> None:
    response = await log_in(client, persona.email)
    assert response.status_code == 303, response.text
    persona.cookies = {"baton_session": client.cookies["baton_session"]}
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE sessions SET space_id = %s WHERE user_id = %s", (space_id, persona.user_id)
        )
    persona.csrf = csrf_of((await client.get("/account")).text)
    client.cookies.clear()


async def _user(pool, name: str) -> Persona:
    user = await make_user(pool, tier="enterprise")
    return Persona(name, user.id, user.email)


async def _one(pool, query: str, params: tuple) -> dict:
    async with pool.connection() as conn:
        return await (await conn.execute(query, params)).fetchone()


async def _exec(pool, query: str, params: tuple) -> None:
    async with pool.connection() as conn:
        await conn.execute(query, params)


async def _has_table(pool, name: str) -> bool:
    return (await _one(pool, "SELECT to_regclass(%s) IS NOT NULL AS there", (name,)))["there"]


async def _has_column(pool, table: str, column: str) -> bool:
    row = await _one(
        pool,
        "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
        (table, column),
    )
    return row["n"] > 0


async def build_world(pool, client) -> World:
    marker = f"MARK{secrets.token_hex(8)}"
    owner, viewer, removed = [await _user(pool, n) for n in ("owner", "viewer", "removed")]
    outsider, invitee = await _user(pool, "outsider"), await _user(pool, "invitee")
    team_a = await make_team(
        pool, owner.user_id, {viewer.user_id: "viewer", removed.user_id: "member"}
    )
    team_b = await make_team(pool, outsider.user_id)
    a, b = team_a["id"], team_b["id"]
    world = World(
        marker, team_a, team_b, owner, viewer, removed, outsider, invitee, Persona("anonymous")
    )

    for persona, space in ((owner, a), (viewer, a), (removed, a), (outsider, b), (invitee, None)):
        await _session(pool, client, persona, space)
        persona.key = await space_key(
            pool, persona.user_id, space or await _personal(pool, persona)
        )
    # Removed after they had a session and a key in team A: both must stop reaching it.
    await _exec(
        pool, "DELETE FROM space_members WHERE space_id = %s AND user_id = %s", (a, removed.user_id)
    )

    owner_api = {"Authorization": f"Bearer {owner.key}"}
    # One transaction: the runs' jobs are deleted before any worker of another test in this
    # database can see them (a worker that took the waiting run's job would end it).
    async with pool.connection() as conn, conn.transaction():
        run, _ = await commands.start_run(
            conn,
            owner_id=owner.user_id,
            space_id=a,
            workflow="selftest",
            input={"steps": 1},
            title=f"{marker} run",
        )
        # A failed run too, so a replay of team A's failed runs has something to select.
        failed, _ = await commands.start_run(
            conn,
            owner_id=owner.user_id,
            space_id=a,
            workflow="selftest",
            input={"steps": 1},
            title=f"{marker} failed run",
        )
        await conn.execute("UPDATE runs SET status = 'failed' WHERE id = %s", (failed.id,))
        # The run waits on the hook below and no worker may advance either run (the waiting one
        # would end, and its review would have nothing left to decide).
        await conn.execute(
            "DELETE FROM procrastinate_jobs WHERE queueing_lock = ANY(%s)",
            ([f"run:{run.id}", f"run:{failed.id}"],),
        )
        await conn.execute("UPDATE runs SET status = 'waiting' WHERE id = %s", (run.id,))
    run_id = str(run.id)
    hook_token = secrets.token_urlsafe(24)
    hook = await _one(
        pool,
        "INSERT INTO hooks (run_id, seq, owner_id, token, name, kind, actions, show) "
        "VALUES (%s, 1, %s, %s, %s, 'approval', '{approve,reject}', %s) RETURNING id",
        (run_id, owner.user_id, hook_token, f"{marker}-hook", f'{{"text": "{marker}"}}'),
    )
    artifact = await _one(
        pool,
        "INSERT INTO artifacts (owner_id, run_id, name, content_type, size, data) "
        "VALUES (%s, %s, %s, 'text/plain', %s, %s) RETURNING id",
        (owner.user_id, run_id, f"{marker}.txt", len(marker), marker.encode()),
    )
    notification = await _one(
        pool,
        "INSERT INTO notifications (user_id, kind, title, url, run_id) "
        "VALUES (%s, 'run_completed', %s, %s, %s) RETURNING id",
        (owner.user_id, f"{marker} done", f"/workflows/{run_id}", run_id),
    )
    conversation = await _one(
        pool,
        "INSERT INTO conversations (user_id, title) VALUES (%s, %s) RETURNING id",
        (owner.user_id, f"{marker} chat"),
    )
    message = await _one(
        pool,
        "INSERT INTO messages (conversation_id, role, content) VALUES (%s, 'user', %s) RETURNING id",
        (conversation["id"], marker),
    )
    connector = await _one(
        pool,
        "INSERT INTO connectors (owner_id, kind, name, url, secret_enc, space_id) "
        "VALUES (%s, 'webhook', %s, 'https://example.invalid/hook', 'not-a-token', %s) RETURNING id",
        (owner.user_id, f"{marker}-connector", a),
    )
    replay = await _one(
        pool,
        "INSERT INTO replays (requested_by, owner_id, workflow, statuses, from_step, total) "
        "VALUES (%s, %s, 'selftest', '{failed}', 'start', 0) RETURNING id",
        (owner.user_id, owner.user_id),
    )
    if await _has_column(pool, "replays", "space_id"):
        await _exec(pool, "UPDATE replays SET space_id = %s WHERE id = %s", (a, replay["id"]))
    owner_key = await _one(
        pool,
        "SELECT id FROM api_keys WHERE user_id = %s ORDER BY id DESC LIMIT 1",
        (owner.user_id,),
    )

    document = copy.deepcopy(REPORT) | {"title": f"{marker} template"}
    slug = f"rt-{secrets.token_hex(4)}"
    made = await client.post(
        "/api/v1/templates", json={"document": document, "slug": slug}, headers=owner_api
    )
    assert made.status_code == 201, made.text
    template_id = (
        await _one(
            pool,
            "SELECT id FROM templates WHERE slug = %s AND owner_id = %s",
            (slug, owner.user_id),
        )
    )["id"]
    await _exec(pool, "UPDATE templates SET space_id = %s WHERE id = %s", (a, template_id))
    share = (
        await _one(pool, "SELECT share_token FROM templates WHERE id = %s", (template_id,))
        if await _has_column(pool, "templates", "share_token")
        else None
    )

    made = await client.post(
        "/api/v1/schedules",
        headers=owner_api,
        json={
            "workflow": "content-generation",
            "input": {"prompt": marker},
            "cron": "0 6 1 * *",
            "time_zone": "UTC",
            "name": f"{marker} schedule",
        },
    )
    assert made.status_code == 201, made.text
    schedule_id = made.json()["id"]
    await _exec(pool, "UPDATE schedules SET space_id = %s WHERE id = %s", (a, schedule_id))

    made = await client.post(
        "/api/v1/triggers",
        headers=owner_api,
        json={"name": f"{marker} trigger", "workflow": "content-generation"},
    )
    assert made.status_code == 201, made.text
    trigger_id = made.json()["id"]
    await _exec(pool, "UPDATE triggers SET space_id = %s WHERE id = %s", (a, trigger_id))

    invitation_id, invitation_token = 0, secrets.token_urlsafe(32)
    if await _has_table(pool, "space_invitations"):
        now = datetime.now(UTC)
        invitation_id = (
            await _one(
                pool,
                "INSERT INTO space_invitations (space_id, email, role, token_hash, invited_by, "
                "expires_at, revoked_at, revoked_by) VALUES (%s, %s, 'member', %s, %s, %s, %s, %s) "
                "RETURNING id",
                (
                    a,
                    invitee.email,
                    hashlib.sha256(invitation_token.encode()).hexdigest(),
                    owner.user_id,
                    now + timedelta(days=7),
                    now,
                    owner.user_id,
                ),
            )
        )["id"]

    world.ids = {
        "run": run_id,
        "hook": hook["id"],
        "hook_token": hook_token,
        "artifact": str(artifact["id"]),
        "notification": notification["id"],
        "conversation": conversation["id"],
        "message": message["id"],
        "connector": connector["id"],
        "replay": replay["id"],
        "key_id": owner_key["id"],
        "template_id": template_id,
        "template_slug": slug,
        "share_token": (share or {}).get("share_token") or "no-share-token",
        "schedule": schedule_id,
        "trigger": trigger_id,
        "team": team_a["slug"],
        "team_id": a,
        "owner_id": owner.user_id,
        "invitation_id": invitation_id,
        "invitation_token": invitation_token,
    }
    return world


async def _personal(pool, persona: Persona) -> int:
    row = await _one(pool, "SELECT id FROM spaces WHERE personal_of = %s", (persona.user_id,))
    return row["id"]
