"""`baton schedules …` as an operator types it: the contract of docs/schedules.md."""

import json

from tests.integration.engine.test_cli_runs import baton
from tests.support.waiting import wait_for


async def test_create_list_trigger_pause_resume_delete(database_url, tmp_path, worker):
    made = await baton(
        database_url,
        tmp_path,
        "user",
        "create",
        "sched-cli@example.test",
        "--password",
        "x" * 12,
        "--tier",
        "enterprise",
    )
    assert made.returncode == 0, made.stderr
    created = await baton(
        database_url,
        tmp_path,
        "schedules",
        "create",
        "--as",
        "sched-cli@example.test",
        "--workflow",
        "content-generation",
        "--cron",
        "0 9 * * 1-5",
        "--tz",
        "Europe/Paris",
        "--input",
        '{"prompt": "the weekly team digest"}',
        "--name",
        "Team digest",
    )
    assert created.returncode == 0, created.stderr
    schedule_id = created.stdout.strip()
    listed = json.loads(
        (
            await baton(
                database_url,
                tmp_path,
                "schedules",
                "list",
                "--as",
                "sched-cli@example.test",
                "--json",
            )
        ).stdout
    )
    [row] = listed
    assert (
        row["id"] == schedule_id
        and row["name"] == "Team digest"
        and row["workflow"] == "content-generation"
    )
    assert row["spec_words"] == "At 09:00, Monday through Friday (Europe/Paris)"
    assert row["next_fire_at"] and row["paused"] is False and row["last_fire_at"] is None

    triggered = await baton(database_url, tmp_path, "schedules", "trigger", schedule_id)
    assert triggered.returncode == 0, triggered.stderr
    run_id = triggered.stdout.strip()
    shown = json.loads(
        (await baton(database_url, tmp_path, "runs", "show", run_id, "--json")).stdout
    )
    assert shown["schedule_id"] == schedule_id and shown["fire_at"]

    paused = await baton(
        database_url, tmp_path, "schedules", "pause", schedule_id, "--note", "holidays"
    )
    assert paused.returncode == 0, paused.stderr
    [row] = json.loads(
        (
            await baton(
                database_url,
                tmp_path,
                "schedules",
                "list",
                "--as",
                "sched-cli@example.test",
                "--json",
            )
        ).stdout
    )
    assert (
        row["paused"] is True and row["paused_note"] == "holidays" and row["next_fire_at"] is None
    )
    assert row["last_run_id"] == run_id
    assert (await baton(database_url, tmp_path, "schedules", "resume", schedule_id)).returncode == 0
    [row] = json.loads(
        (
            await baton(
                database_url,
                tmp_path,
                "schedules",
                "list",
                "--as",
                "sched-cli@example.test",
                "--json",
            )
        ).stdout
    )
    assert row["paused"] is False and row["next_fire_at"]
    assert (await baton(database_url, tmp_path, "schedules", "delete", schedule_id)).returncode == 0
    # Other tests' schedules share this database: an operator's list (no --as) would show them too.
    assert (
        json.loads(
            (
                await baton(
                    database_url,
                    tmp_path,
                    "schedules",
                    "list",
                    "--as",
                    "sched-cli@example.test",
                    "--json",
                )
            ).stdout
        )
        == []
    )
    gone = await baton(database_url, tmp_path, "schedules", "trigger", schedule_id)
    assert gone.returncode == 1 and "no such schedule" in gone.stderr


async def test_an_invalid_spec_zone_or_input_exits_2_with_the_problem(database_url, tmp_path):
    await baton(
        database_url,
        tmp_path,
        "user",
        "create",
        "sched-bad@example.test",
        "--password",
        "x" * 12,
        "--tier",
        "enterprise",
    )
    base = [
        "schedules",
        "create",
        "--as",
        "sched-bad@example.test",
        "--workflow",
        "content-generation",
    ]
    for extra, problem in (
        (["--cron", "61 * * * *", "--input", '{"prompt": "abc"}'], "spec"),
        (["--every", "5 fortnights", "--input", '{"prompt": "abc"}'], "spec"),
        (["--every", "1h", "--tz", "Mars/Olympus", "--input", '{"prompt": "abc"}'], "time_zone"),
        (["--every", "1h", "--input", '{"prompt": 1'], "--input"),
        (["--every", "1h", "--input", '{"nope": true}'], "input."),
    ):
        done = await baton(database_url, tmp_path, *base, *extra)
        assert done.returncode == 2, (extra, done.stdout, done.stderr)
        assert problem in done.stderr and "Traceback" not in done.stderr and done.stdout == ""


async def test_a_schedule_run_appears_with_its_fire(database_url, tmp_path, worker, pool):
    await baton(
        database_url,
        tmp_path,
        "user",
        "create",
        "sched-every@example.test",
        "--password",
        "x" * 12,
        "--tier",
        "enterprise",
    )
    created = await baton(
        database_url,
        tmp_path,
        "schedules",
        "create",
        "--as",
        "sched-every@example.test",
        "--workflow",
        "content-generation",
        "--every",
        "1s",
        "--input",
        '{"prompt": "tick tock"}',
        "--overlap",
        "allow-all",
    )
    assert created.returncode == 0, created.stderr
    schedule_id = created.stdout.strip()

    async def last_run():
        async with pool.connection() as conn:
            return await (
                await conn.execute(
                    "SELECT id FROM runs WHERE schedule_id = %s LIMIT 1", (schedule_id,)
                )
            ).fetchone()

    run = await wait_for(last_run, timeout=15, what="a run of the schedule")
    await baton(database_url, tmp_path, "schedules", "pause", schedule_id)
    shown = json.loads(
        (await baton(database_url, tmp_path, "runs", "show", str(run["id"]), "--json")).stdout
    )
    assert shown["schedule_id"] == schedule_id and shown["fire_at"]
