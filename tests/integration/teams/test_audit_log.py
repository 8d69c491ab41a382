"""The audit log: run commands record who did what in the run's space (in the command's transaction);
/audit shows the current space's log to its admins and owners (members 403, another team 404) with
filters and paging; the CSV export streams the same filtered entries with formula-safe cells; the
API reads the key's space's log; retention prunes old entries."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from app.core import audit
from app.engine import commands
from app.engine.retention import prune_audit_log
from app.web.audit.csv_rows import safe_cell
from tests.support.teams import make_team, personal_space_id, signed_in_user, space_key, work_in
from tests.support.web import make_user


async def _entries(pool, space_id: int) -> list[dict]:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT * FROM audit_log WHERE space_id = %s ORDER BY id", (space_id,)
            )
        ).fetchall()


async def _add(pool, space_id: int, actor_id, action: str, detail=None, at=None) -> None:
    async with pool.connection() as conn:
        await audit.record(
            conn,
            space_id=space_id,
            actor_id=actor_id,
            action=action,
            object_kind=action.split(".")[0],
            object_id=secrets.token_hex(4),
            detail=detail,
        )
        if at is not None:
            await conn.execute(
                "UPDATE audit_log SET at = %s WHERE id = (SELECT max(id) FROM audit_log WHERE space_id = %s)",
                (at, space_id),
            )


async def test_run_commands_record_who_did_what_in_the_runs_space(pool):
    owner = await make_user(pool, tier="enterprise")
    member = await make_user(pool, tier="enterprise")
    team = await make_team(pool, owner.id, {member.id: "member"})
    async with pool.connection() as conn:
        run, _ = await commands.start_run(
            conn, owner_id=member.id, space_id=team["id"], workflow="selftest", input={"steps": 1}
        )
        await commands.cancel_run(conn, run.id, actor_id=owner.id)
        await conn.execute("UPDATE runs SET status = 'failed' WHERE id = %s", (run.id,))
        await commands.retry_run(conn, run.id, actor_id=member.id)
        await commands.cancel_run(conn, run.id, actor_id=member.id)
        source, plan = await commands.plan_rerun(conn, run.id, owner_id=None)
        rerun, _ = await commands.start_run(
            conn,
            owner_id=owner.id,
            space_id=team["id"],
            workflow=source.workflow,
            input=source.input,
            rerun=plan,
        )
        fired, _ = await commands.start_run(
            conn,
            owner_id=owner.id,
            space_id=team["id"],
            workflow="selftest",
            input={"steps": 1},
            idempotency_key="schedule:4711:2026-12-04T10:00:00+00:00",
        )
        again, created = await commands.start_run(  # the same fire again: nothing new recorded
            conn,
            owner_id=owner.id,
            space_id=team["id"],
            workflow="selftest",
            input={"steps": 1},
            idempotency_key="schedule:4711:2026-12-04T10:00:00+00:00",
        )
    assert not created and again.id == fired.id
    got = [
        (e["action"], e["actor_email"], e["object_id"]) for e in await _entries(pool, team["id"])
    ]
    assert got == [
        ("run.start", member.email, str(run.id)),
        ("run.cancel", owner.email, str(run.id)),
        ("run.retry", member.email, str(run.id)),
        ("run.cancel", member.email, str(run.id)),
        ("run.rerun", owner.email, str(rerun.id)),
        ("run.start", owner.email, str(fired.id)),
    ]
    entries = await _entries(pool, team["id"])
    assert entries[4]["detail"]["rerun_of"] == str(run.id)
    assert entries[5]["detail"]["schedule_id"] == "4711"
    assert await _entries(pool, await personal_space_id(pool, member.id)) == []


async def test_a_refused_start_records_nothing(pool):
    owner = await make_user(pool, tier="enterprise")
    async with pool.connection() as conn:
        with pytest.raises(commands.InputInvalid):
            await commands.start_run(
                conn, owner_id=owner.id, workflow="selftest", input={"steps": "many"}
            )
        run, _ = await commands.start_run(
            conn, owner_id=owner.id, workflow="selftest", input={"steps": 1}
        )
        await commands.cancel_run(conn, run.id, owner_id=owner.id)
        with pytest.raises(commands.InvalidState):
            await commands.cancel_run(conn, run.id, owner_id=owner.id)
    personal = await personal_space_id(pool, owner.id)
    assert [e["action"] for e in await _entries(pool, personal)] == ["run.start", "run.cancel"]


async def test_admins_read_the_teams_log_members_are_refused_other_teams_not_found(
    pool, app_client
):
    admin = await signed_in_user(pool, app_client)
    admin_cookie = app_client.cookies["baton_session"]
    member = await signed_in_user(pool, app_client)
    member_cookie = app_client.cookies["baton_session"]
    team = await make_team(pool, admin.id, {member.id: "member"})
    other = await make_team(pool, member.id)
    marker = f"marker-{secrets.token_hex(4)}"
    await _add(pool, team["id"], member.id, "template.save", {"name": marker})
    await _add(pool, other["id"], member.id, "template.save", {"name": "other-team-secret"})
    await work_in(pool, admin.id, team["id"])
    await work_in(pool, member.id, team["id"])

    app_client.cookies.set("baton_session", admin_cookie)
    page = await app_client.get("/audit")
    assert page.status_code == 200 and marker in page.text and member.email in page.text
    assert "other-team-secret" not in page.text
    assert (await app_client.get(f"/audit?team={other['slug']}")).status_code == 404
    assert (await app_client.get(f"/audit/export.csv?team={other['slug']}")).status_code == 404

    app_client.cookies.set("baton_session", member_cookie)
    for url in ("/audit", "/audit/export.csv", f"/audit?team={team['slug']}"):
        refused = await app_client.get(url)
        assert refused.status_code == 403, url
        assert marker not in refused.text
    await work_in(pool, member.id, None)  # their personal space: they own it, they read its log
    mine = await app_client.get("/audit")
    assert mine.status_code == 200 and marker not in mine.text
    own = await app_client.get(f"/audit?team={other['slug']}")  # the team they own
    assert own.status_code == 200 and "other-team-secret" in own.text


async def test_filters_paging_and_the_readers_time_zone(pool, app_client):
    admin = await signed_in_user(pool, app_client)
    someone = await make_user(pool, tier="enterprise")
    team = await make_team(pool, admin.id, {someone.id: "member"})
    await work_in(pool, admin.id, team["id"])
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET time_zone = 'Asia/Tokyo' WHERE id = %s", (admin.id,))
    base = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # 3 Nov 08:30 in Tokyo
    for i in range(60):
        await _add(
            pool, team["id"], someone.id, "run.start", {"n": i}, at=base + timedelta(minutes=i)
        )
    await _add(pool, team["id"], admin.id, "member.role", {"n": "role"}, at=base)
    await _add(pool, team["id"], admin.id, "run.cancel", {"n": "old"}, at=base - timedelta(days=3))

    first = await app_client.get("/audit?action=run.start")
    assert first.status_code == 200
    assert first.text.count("<code>run.start</code>") == 50
    assert "<code>member.role</code>" not in first.text
    assert "3 Nov 2026, 09:29 JST" in first.text  # the newest, in the reader's zone
    older = first.text.split('href="/audit?')[-1].split('"')[0].replace("&amp;", "&")
    assert "cursor=" in older
    second = await app_client.get(f"/audit?{older}")
    assert second.text.count("<code>run.start</code>") == 10

    by_kind = await app_client.get("/audit?action=run&until=2026-11-01")
    assert "<code>run.cancel</code>" in by_kind.text
    assert "<code>member.role</code>" not in by_kind.text
    by_person = await app_client.get(f"/audit?actor={admin.email.upper()}")
    assert (
        "<code>member.role</code>" in by_person.text
        and "<code>run.start</code>" not in by_person.text
    )
    one_day = await app_client.get("/audit?action=run.cancel&since=2026-10-31&until=2026-10-31")
    assert "<code>run.cancel</code>" in one_day.text  # 31 Oct 08:30 Tokyo
    none = await app_client.get("/audit?action=run.cancel&since=2026-11-01")
    assert "No entries match." in none.text
    for odd in ("?cursor=%00%01", "?since=2026-13-99&until=x", "?action=%27;drop", "?team=%00"):
        assert (await app_client.get(f"/audit{odd}")).status_code in (200, 404), odd


async def test_csv_export_streams_the_filtered_log_with_cells_safe_from_formulas(pool, app_client):
    admin = await signed_in_user(pool, app_client)
    team = await make_team(pool, admin.id)
    await work_in(pool, admin.id, team["id"])
    evil = '=HYPERLINK("http://evil.example","x")'
    await _add(pool, team["id"], admin.id, "template.save", {"name": evil})
    async with pool.connection() as conn:
        await audit.record(
            conn,
            space_id=team["id"],
            actor_id=None,
            action="schedule.change",
            object_kind="schedule",
            object_id="+1-555",
            detail={},
        )
    for i in range(1203):  # more than one batch of the stream
        await _add(pool, team["id"], admin.id, "run.start", {"n": i})

    export = await app_client.get("/audit/export.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0] == ["time", "actor", "action", "object_kind", "object_id", "detail"]
    assert len(rows) == 1 + 1205
    schedule = next(r for r in rows if r[2] == "schedule.change")
    assert schedule[1] == "system" and schedule[4] == "'+1-555"
    template = next(r for r in rows if r[2] == "template.save")
    assert template[5].startswith('{"name": "=HYPERLINK')  # JSON text: starts with {, not =
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)

    only = await app_client.get("/audit/export.csv?action=template")
    assert [r[2] for r in csv.reader(io.StringIO(only.text))][1:] == ["template.save"]


def test_safe_cell_defuses_every_formula_start():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_cell(f"{start}1+1") == f"'{start}1+1"
    assert safe_cell("plain") == "plain" and safe_cell(None) == "" and safe_cell(7) == "7"


async def test_the_api_reads_the_keys_space_log_for_admins_only(pool, app_client):
    admin = await make_user(pool, tier="enterprise")
    viewer = await make_user(pool, tier="enterprise")
    team = await make_team(pool, admin.id, {viewer.id: "viewer"})
    for i in range(3):
        await _add(pool, team["id"], admin.id, "schedule.create", {"n": i})
    await _add(pool, team["id"], viewer.id, "hook.decide")
    admin_key = await space_key(pool, admin.id, team["id"])
    viewer_key = await space_key(pool, viewer.id, team["id"])

    def auth(key):
        return {"Authorization": f"Bearer {key}"}

    page = await app_client.get("/api/v1/audit?limit=2&action=schedule", headers=auth(admin_key))
    assert page.status_code == 200, page.text
    body = page.json()
    assert [e["action"] for e in body["entries"]] == ["schedule.create"] * 2
    assert body["entries"][0]["actor"] == admin.email and body["next_cursor"]
    rest = await app_client.get(
        f"/api/v1/audit?limit=2&action=schedule&cursor={body['next_cursor']}",
        headers=auth(admin_key),
    )
    assert [e["detail"]["n"] for e in rest.json()["entries"]] == [0]
    refused = await app_client.get("/api/v1/audit", headers=auth(viewer_key))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    bad = await app_client.get("/api/v1/audit?cursor=nope", headers=auth(admin_key))
    assert bad.status_code == 422


async def test_retention_prunes_entries_older_than_the_setting(pool):
    owner = await make_user(pool, tier="enterprise")
    team = await make_team(pool, owner.id)
    now = datetime.now(UTC)
    await _add(pool, team["id"], owner.id, "run.start", {"k": "old"}, at=now - timedelta(days=91))
    await _add(pool, team["id"], owner.id, "run.start", {"k": "kept"}, at=now - timedelta(days=89))
    async with pool.connection() as conn:
        assert await prune_audit_log(conn, 90, batch=1) >= 1
    assert [e["detail"]["k"] for e in await _entries(pool, team["id"])] == ["kept"]
