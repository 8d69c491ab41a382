"""Rerun and replay on the web as a person uses them: each step of the run page shows what it was
given and returned (cut values downloadable) and a "Rerun from here" form that edits the step's
output or the run's input, refusing bad JSON and bad fields with a message each; the new run links
to the original. The bulk replay page shows which runs match before anything starts, and its
progress page can cancel it. Another user's run, step and replay are 404s."""

import json
import re
import secrets

import tests.integration.engine.rerun_workflows as W
from tests.support.engine import wait_status
from tests.support.web import csrf_of, log_in, make_user, new_email


async def start(pool, owner, workflow, **input):
    from app.engine.commands import start_run

    async with pool.connection() as conn:
        run, _ = await start_run(conn, owner_id=owner, workflow=workflow, input=input)
    return run


async def middle_seq(pool, run_id) -> int:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT seq FROM run_steps WHERE run_id = %s AND name = 'middle'", (run_id,)
            )
        ).fetchone()
    return row["seq"]


async def test_rerun_from_a_step_with_an_edited_output_from_the_run_page(app_client, pool, worker):
    user = await make_user(pool, new_email("rerun"), tier="enterprise")
    assert (await log_in(app_client, user.email)).status_code == 303
    tag = f"web-{secrets.token_hex(4)}"
    original = await start(pool, user.id, "test-rerun", tag=tag)
    await wait_status(pool, original.id, "completed")

    page = await app_client.get(f"/workflows/{original.id}")
    assert page.status_code == 200
    assert page.text.count("Rerun from here") == 4
    seq = await middle_seq(pool, original.id)
    opened = await app_client.get(f"/workflows/{original.id}/steps/{seq}")  # the step, opened
    assert "Given" in opened.text and tag in opened.text
    form = await app_client.get(f"/workflows/{original.id}/rerun?step={seq}")
    assert form.status_code == 200 and "Rerun from “middle”" in form.text
    csrf = csrf_of(form.text)

    bad = await app_client.post(
        f"/workflows/{original.id}/rerun",
        data={
            "_csrf_token": csrf,
            "step": str(seq),
            "edit_output": "on",
            "step_output": "{n: 10",
            "input": "[1]",
        },
    )
    assert bad.status_code == 422
    assert "Not valid JSON" in bad.text and "The input is a JSON object" in bad.text
    wrong = await app_client.post(
        f"/workflows/{original.id}/rerun",
        data={"_csrf_token": csrf, "step": str(seq), "input": json.dumps({"tag": 5})},
    )
    assert wrong.status_code == 422 and re.search(r"<code>tag</code>: .*string", wrong.text)

    done = await app_client.post(
        f"/workflows/{original.id}/rerun",
        data={
            "_csrf_token": csrf,
            "step": str(seq),
            "edit_output": "on",
            "step_output": '{"n": 10}',
            "input": json.dumps({"tag": tag}),
        },
    )
    assert done.status_code == 303
    new_id = done.headers["location"].rsplit("/", 1)[-1]
    assert (await wait_status(pool, new_id, "completed"))["output"] == {"n": 11, "tag": tag}
    shown = await app_client.get(f"/workflows/{new_id}")
    assert f'href="/workflows/{original.id}"' in shown.text
    assert "from step “middle” (its output edited)" in shown.text
    assert shown.text.count(">reused<") == 3  # "first", "note" and the edited "middle"
    listed = await app_client.get("/workflows")
    assert "rerun from “middle”" in listed.text

    download = await app_client.get(f"/workflows/{new_id}/steps/{seq}/output.json")
    assert download.status_code == 200 and json.loads(download.text) == {"n": 10}
    assert "attachment" in download.headers["content-disposition"]

    other = await make_user(pool, new_email("other"), tier="enterprise")
    assert (await log_in(app_client, other.email)).status_code == 303
    for path in (
        f"/workflows/{original.id}/rerun",
        f"/workflows/{original.id}/steps/{seq}/output.json",
        f"/workflows/{original.id}/steps/{seq}",
    ):
        assert (await app_client.get(path)).status_code == 404
    token = csrf_of((await app_client.get("/workflows")).text)
    stolen = await app_client.post(
        f"/workflows/{original.id}/rerun", data={"_csrf_token": token, "step": str(seq)}
    )
    assert stolen.status_code == 404


async def test_bulk_replay_page_previews_then_replays_and_cancels(
    app_client, pool, worker, monkeypatch
):
    user = await make_user(pool, new_email("replay"), tier="enterprise")
    assert (await log_in(app_client, user.email)).status_code == 303
    W.BROKEN["deliver"] = True
    runs = [
        await start(pool, user.id, "test-replay", tag=f"wp-{secrets.token_hex(4)}")
        for _ in range(6)
    ]
    for run in runs:
        await wait_status(pool, run.id, "failed", timeout=30)

    assert (await app_client.get("/workflows/replay")).status_code == 200
    empty = await app_client.get("/workflows/replay?preview=1")
    assert empty.status_code == 422 and "name the workflow" in empty.text
    bad = await app_client.get(
        "/workflows/replay?preview=1&workflow=test-replay&status=nope&since=yesterday"
    )
    assert bad.status_code == 422 and "choose among" in bad.text and "A date and time" in bad.text
    preview = await app_client.get("/workflows/replay?preview=1&workflow=test-replay&status=failed")
    assert (
        preview.status_code == 200
        and "6 runs match" in preview.text
        and "Replay 6 runs" in preview.text
    )
    async with pool.connection() as conn:
        before = (
            await (
                await conn.execute("SELECT count(*) AS n FROM runs WHERE owner_id = %s", (user.id,))
            ).fetchone()
        )["n"]
    assert before == 6  # a preview starts nothing

    monkeypatch.setenv("BATON_REPLAY_WORKER_SHARE", "0.01")  # one run at a time: time to cancel
    started = await app_client.post(
        "/workflows/replay",
        data={
            "_csrf_token": csrf_of(preview.text),
            "workflow": "test-replay",
            "status": "failed",
            "from_step": "start",
        },
    )
    assert started.status_code == 303
    progress_url = started.headers["location"]
    progress = await app_client.get(progress_url)
    assert progress.status_code == 200 and "of 6 started" in progress.text
    assert f"sse:replay-{progress_url.rsplit('/', 1)[-1]}" in progress.text
    cancelled = await app_client.post(
        f"{progress_url}/cancel", data={"_csrf_token": csrf_of(progress.text)}
    )
    assert cancelled.status_code == 303
    after = await app_client.get(progress_url)
    assert "Cancelled" in after.text and "not started (cancelled)" in after.text

    other = await make_user(pool, new_email("nosy"), tier="enterprise")
    assert (await log_in(app_client, other.email)).status_code == 303
    assert (await app_client.get(progress_url)).status_code == 404
    assert (
        "0 runs match"
        in (
            await app_client.get("/workflows/replay?preview=1&workflow=test-replay&status=failed")
        ).text
    )
