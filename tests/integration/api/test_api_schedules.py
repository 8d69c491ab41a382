"""/api/v1/schedules: the same schedules as the pages and the CLI, the caller's own only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.api.conftest import new_account
from tests.integration.api.test_api_runs import error_of

BODY = {
    "workflow": "content-generation",
    "input": {"prompt": "the monthly CSV"},
    "cron": "0 6 1 * *",
    "time_zone": "Europe/Paris",
    "name": "Monthly analysis",
}


async def test_create_read_list_pause_resume_trigger_backfill_delete(api, account):
    created = await api.post("/api/v1/schedules", headers=account.headers, json=BODY)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["spec_words"] == "At 06:00, on day 1 of the month (Europe/Paris)"
    assert schedule["next_fire_at"] and schedule["fires"] == [] and schedule["overlap"] == "skip"
    url = f"/api/v1/schedules/{schedule['id']}"
    listed = (await api.get("/api/v1/schedules", headers=account.headers)).json()["schedules"]
    assert [s["id"] for s in listed] == [schedule["id"]]

    paused = await api.post(f"{url}/pause", headers=account.headers, json={"note": "budget review"})
    assert (
        paused.status_code == 200
        and paused.json()["paused"]
        and paused.json()["paused_note"] == "budget review"
    )
    assert paused.json()["next_fire_at"] is None
    resumed = await api.post(f"{url}/resume", headers=account.headers)
    assert (
        resumed.status_code == 200
        and not resumed.json()["paused"]
        and resumed.json()["next_fire_at"]
    )

    fired = await api.post(f"{url}/trigger", headers=account.headers)
    assert fired.status_code == 201, fired.text
    run = (await api.get(f"/api/v1/runs/{fired.json()['run_id']}", headers=account.headers)).json()
    assert run["schedule_id"] == schedule["id"] and run["fire_at"] == fired.json()["fire_at"]

    now = datetime.now(UTC)
    backfilled = await api.post(
        f"{url}/backfill",
        headers=account.headers,
        json={
            "start": (now - timedelta(days=62)).isoformat(),
            "end": now.isoformat(),
            "overlap": "allow-all",
        },
    )
    assert backfilled.status_code == 200, backfilled.text
    assert len(backfilled.json()["fires"]) == 2 and all(
        f["outcome"] == "started" for f in backfilled.json()["fires"]
    )
    again = await api.post(
        f"{url}/backfill",
        headers=account.headers,
        json={
            "start": (now - timedelta(days=62)).isoformat(),
            "end": now.isoformat(),
            "overlap": "allow-all",
        },
    )
    assert again.json()["fires"] == []  # each fire happens once
    detail = (await api.get(url, headers=account.headers)).json()
    assert len(detail["fires"]) == 3 and {f["kind"] for f in detail["fires"]} == {
        "manual",
        "backfill",
    }

    edited = await api.patch(
        url, headers=account.headers, json=BODY | {"cron": None, "every": "6h"}
    )
    assert edited.status_code == 200 and edited.json()["spec_words"] == "Every 6 hours"
    assert (await api.delete(url, headers=account.headers)).status_code == 204
    error_of(await api.get(url, headers=account.headers), 404, "not_found")


async def test_bad_fields_are_a_422_naming_each(api, account):
    bad = await api.post(
        "/api/v1/schedules",
        headers=account.headers,
        json=BODY | {"cron": "0 25 * * *", "time_zone": "Nowhere/City", "input": {"prompt": 3}},
    )
    error = error_of(bad, 422, "invalid_input")
    assert {e["field"] for e in error["fields"]} == {"cron", "time_zone", "input.prompt"}
    error_of(
        await api.post("/api/v1/schedules", headers=account.headers, json=BODY | {"every": "1h"}),
        422,
        "invalid_input",
    )
    error_of(
        await api.post(
            "/api/v1/schedules", headers=account.headers, json=BODY | {"overlap": "sometimes"}
        ),
        422,
        "invalid_input",
    )
    future = datetime.now(UTC) + timedelta(days=1)
    made = (await api.post("/api/v1/schedules", headers=account.headers, json=BODY)).json()
    error_of(
        await api.post(
            f"/api/v1/schedules/{made['id']}/backfill",
            headers=account.headers,
            json={"start": datetime.now(UTC).isoformat(), "end": future.isoformat()},
        ),
        422,
        "invalid_input",
    )


async def test_another_accounts_schedule_is_a_404(api, account, pool):
    made = (await api.post("/api/v1/schedules", headers=account.headers, json=BODY)).json()
    other = await new_account(pool)
    url = f"/api/v1/schedules/{made['id']}"
    error_of(await api.get(url, headers=other.headers), 404, "not_found")
    error_of(await api.patch(url, headers=other.headers, json=BODY), 404, "not_found")
    error_of(await api.post(f"{url}/pause", headers=other.headers, json={}), 404, "not_found")
    for action in ("resume", "trigger"):
        error_of(await api.post(f"{url}/{action}", headers=other.headers), 404, "not_found")
    error_of(await api.delete(url, headers=other.headers), 404, "not_found")
    error_of(await api.get("/api/v1/schedules/nope", headers=other.headers), 404, "not_found")
    assert (await api.get("/api/v1/schedules", headers=other.headers)).json()["schedules"] == []


async def test_a_template_target_runs_its_current_version(api, account, pool):
    from tests.integration.schedules.helpers import own_template

    slug = await own_template(pool, account.user_id, "sched-api-report")
    created = await api.post(
        "/api/v1/schedules",
        headers=account.headers,
        json={
            "template": slug,
            "input": {"topic": "quarterly numbers"},
            "every": "1d",
            "name": "Report",
        },
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["template"] == slug and schedule["workflow"] is None and schedule["template_id"]
    fired = await api.post(f"/api/v1/schedules/{schedule['id']}/trigger", headers=account.headers)
    assert fired.status_code == 201, fired.text
    run = (await api.get(f"/api/v1/runs/{fired.json()['run_id']}", headers=account.headers)).json()
    assert run["template"] == slug and run["schedule_id"] == schedule["id"]
    missing = await api.post(
        "/api/v1/schedules",
        headers=account.headers,
        json={"template": "no-such-template", "input": {}, "every": "1d"},
    )
    assert {e["field"] for e in error_of(missing, 422, "invalid_input")["fields"]} == {"template"}
    both = await api.post(
        "/api/v1/schedules",
        headers=account.headers,
        json={"template": slug, "workflow": "content-generation", "input": {}, "every": "1d"},
    )
    error_of(both, 422, "invalid_input")
    bad_input = await api.post(
        "/api/v1/schedules",
        headers=account.headers,
        json={"template": slug, "input": {"nope": 1}, "every": "1d"},
    )
    assert any(
        e["field"].startswith("input.") for e in error_of(bad_input, 422, "invalid_input")["fields"]
    )
    other = await new_account(pool)
    theirs = await api.post(
        "/api/v1/schedules",
        headers=other.headers,
        json={"template": slug, "input": {"topic": "x"}, "every": "1d"},
    )
    assert {e["field"] for e in error_of(theirs, 422, "invalid_input")["fields"]} == {
        "template"
    }  # private
