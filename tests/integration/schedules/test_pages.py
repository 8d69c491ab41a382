"""/schedules as a person uses it: the form refuses each bad field beside it, the preview names
the next fires, actions work, and another user's schedule is a 404."""

import re

from tests.support.web import csrf_of, log_in, make_user

FORM = {
    "sched_name": "Team digest",
    "sched_workflow": "content-generation",
    "prompt": "the weekly digest",
    "sched_when": "0 9 * * 1-5",
    "sched_tz": "Europe/Paris",
    "sched_overlap": "skip",
    "sched_catch_up": "latest",
}


async def signed_in(client, pool, tier="enterprise"):
    user = await make_user(pool, tier=tier)
    assert (await log_in(client, user.email)).status_code == 303
    return user


async def test_create_a_schedule_then_pause_resume_run_now_and_delete(app_client, pool):
    await signed_in(app_client, pool)
    form_page = await app_client.get("/schedules/new?workflow=content-generation")
    assert form_page.status_code == 200 and 'name="prompt"' in form_page.text
    csrf = csrf_of(form_page.text)
    created = await app_client.post("/schedules/", data=FORM | {"_csrf_token": csrf})
    assert created.status_code == 303, created.text
    url = created.headers["location"]
    page = await app_client.get(url)
    assert (
        "At 09:00, Monday through Friday (Europe/Paris)" in page.text and "Team digest" in page.text
    )
    listing = await app_client.get("/schedules")
    assert "Team digest" in listing.text and "Not fired yet" in listing.text

    paused = await app_client.post(
        f"{url}/pause", data={"note": "away in August", "_csrf_token": csrf}
    )
    assert paused.status_code == 303
    page = await app_client.get(url)
    assert (
        "Paused" in page.text
        and "away in August" in page.text
        and 'action="' + url + '/resume"' in page.text
    )
    assert (await app_client.post(f"{url}/resume", data={"_csrf_token": csrf})).status_code == 303

    ran = await app_client.post(
        f"{url}/trigger",
        data={"_csrf_token": csrf},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert ran.status_code == 200 and "A run started now." in ran.text
    run_id = re.search(r'href="/workflows/([0-9a-f-]{36})"', ran.text).group(1)
    run_page = await app_client.get(f"/workflows/{run_id}")
    assert "Started by schedule" in run_page.text and "Team digest" in run_page.text

    edit = await app_client.get(f"{url}/edit")
    assert 'value="0 9 * * 1-5"' in edit.text and "the weekly digest" in edit.text
    saved = await app_client.post(url, data=FORM | {"sched_when": "6h", "_csrf_token": csrf})
    assert saved.status_code == 303
    assert "Every 6 hours" in (await app_client.get(url)).text

    gone = await app_client.post(f"{url}/delete", data={"_csrf_token": csrf})
    assert gone.status_code == 303 and gone.headers["location"] == "/schedules"
    assert (await app_client.get(url)).status_code == 404


async def test_each_bad_field_is_refused_next_to_it(app_client, pool):
    await signed_in(app_client, pool)
    csrf = csrf_of((await app_client.get("/schedules/new")).text)
    bad = FORM | {
        "prompt": "",
        "sched_when": "61 * * * *",
        "sched_tz": "Mars/Olympus",
        "sched_pause_after": "lots",
        "_csrf_token": csrf,
    }
    refused = await app_client.post("/schedules/", data=bad)
    assert refused.status_code == 422
    for field in ("sched_when", "sched_tz", "sched_pause_after", "wf-prompt"):
        assert f'id="{field}-error"' in refused.text, field
    assert "the weekly digest" not in refused.text and 'value="61 * * * *"' in refused.text
    for hostile in ("<script>", "\x00", "x" * 5000):
        answer = await app_client.post(
            "/schedules/", data=FORM | {"sched_when": hostile, "_csrf_token": csrf}
        )
        assert answer.status_code == 422 and "<script>" not in answer.text


async def test_the_preview_names_the_next_five_fires(app_client, pool):
    await signed_in(app_client, pool)
    shown = await app_client.get(
        "/schedules/preview", params={"sched_when": "@daily", "sched_tz": "UTC"}
    )
    assert "At 00:00 (UTC)" in shown.text and shown.text.count("<li>") == 5
    wrong = await app_client.get(
        "/schedules/preview", params={"sched_when": "* * *", "sched_tz": "UTC"}
    )
    assert "5 fields" in wrong.text


async def test_another_users_schedule_is_a_404(app_client, pool):
    await signed_in(app_client, pool)
    csrf = csrf_of((await app_client.get("/schedules/new")).text)
    url = (await app_client.post("/schedules/", data=FORM | {"_csrf_token": csrf})).headers[
        "location"
    ]
    await signed_in(app_client, pool)
    csrf = csrf_of((await app_client.get("/schedules/new")).text)
    assert (await app_client.get(url)).status_code == 404
    assert (await app_client.get(f"{url}/edit")).status_code == 404
    for action in ("pause", "resume", "trigger", "delete"):
        assert (
            await app_client.post(f"{url}/{action}", data={"_csrf_token": csrf})
        ).status_code == 404, action
    assert (await app_client.post(url, data=FORM | {"_csrf_token": csrf})).status_code == 404
    assert (await app_client.get("/schedules/not-a-uuid")).status_code == 404
    assert "Team digest" not in (await app_client.get("/schedules")).text


async def test_a_template_is_a_target_too(app_client, pool):
    from tests.integration.schedules.helpers import own_template

    user = await signed_in(app_client, pool)
    slug = await own_template(pool, user.id, "sched-page-report")
    form = await app_client.get(f"/schedules/new?fragment=inputs&sched_workflow=template:{slug}")
    assert 'name="topic"' in form.text
    page = await app_client.get("/schedules/new")
    assert f'value="template:{slug}"' in page.text
    created = await app_client.post(
        "/schedules/",
        data={
            "sched_workflow": f"template:{slug}",
            "topic": "the quarter in numbers",
            "sched_when": "@weekly",
            "sched_tz": "UTC",
            "_csrf_token": csrf_of(page.text),
        },
    )
    assert created.status_code == 303, created.text
    detail = await app_client.get(created.headers["location"])
    assert "Template" in detail.text and "At 00:00, only on Sunday (UTC)" in detail.text
    edit = await app_client.get(created.headers["location"] + "/edit")
    assert (
        f'value="template:{slug}" selected' in edit.text and "the quarter in numbers" in edit.text
    )
