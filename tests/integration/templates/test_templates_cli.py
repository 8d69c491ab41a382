"""`baton templates …` exactly as the issue's contract says: scripts rely on it."""

from __future__ import annotations

import json

from tests.integration.engine.test_cli_runs import baton
from tests.integration.templates.test_template_runs import REPORT
from tests.support.engine import make_user


async def _email(pool, user_id) -> str:
    async with pool.connection() as conn:
        return (
            await (
                await conn.execute("SELECT email FROM users WHERE id = %s", (user_id,))
            ).fetchone()
        )["email"]


async def test_import_export_round_trip_list_and_run(database_url, tmp_path, pool, worker, user):
    email = await _email(pool, user)
    migrated = await baton(database_url, tmp_path, "migrate")  # loads the gallery's starters
    assert migrated.returncode == 0 and "starter templates: 6 loaded" in migrated.stdout, (
        migrated.stderr
    )
    path = tmp_path / "report.json"
    path.write_text(json.dumps(REPORT))
    imported = await baton(
        database_url,
        tmp_path,
        "templates",
        "import",
        str(path),
        "--as",
        email,
        "--slug",
        "my-report",
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "my-report"

    exported = await baton(
        database_url, tmp_path, "templates", "export", "my-report", "--as", email
    )
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout) == {"format_version": 1, **REPORT}

    listed = json.loads(
        (await baton(database_url, tmp_path, "templates", "list", "--as", email, "--json")).stdout
    )
    mine = [t for t in listed if t["slug"] == "my-report"]
    assert mine == [
        {
            "slug": "my-report",
            "title": "Reviewed report",
            "visibility": "private",
            "version": 1,
            "owner": email,
            "category": "General",
        }
    ]
    assert {"reviewed-report", "daily-digest"} <= {
        t["slug"] for t in listed if t["owner"] == "(starter)"
    }

    ran = await baton(
        database_url,
        tmp_path,
        "templates",
        "run",
        "my-report",
        "--as",
        email,
        "--input",
        '{"topic": "otters"}',
        "--json",
    )
    assert ran.returncode == 0, ran.stderr
    shown = json.loads(ran.stdout)
    assert (
        shown["template"] == "my-report"
        and shown["template_version"] == 1
        and shown["workflow"] == "template"
    )
    again = json.loads(
        (await baton(database_url, tmp_path, "runs", "show", shown["id"], "--json")).stdout
    )
    assert again["template"] == "my-report" and again["template_version"] == 1
    plain = await baton(
        database_url,
        tmp_path,
        "templates",
        "run",
        "my-report",
        "--as",
        email,
        "--input",
        '{"topic": "x"}',
    )
    assert plain.returncode == 0 and len(plain.stdout.strip()) == 36


async def test_an_invalid_import_exits_2_with_one_line_per_problem_and_saves_nothing(
    database_url, tmp_path, pool, user
):
    email = await _email(pool, user)
    bad = {
        "title": "Bad",
        "blocks": [
            {"id": "draft", "kind": "ask_model", "prompt": "{{ nope }}"},
            {"id": "check", "kind": "review", "content": "x", "on_changes": "draft"},
        ],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = await baton(database_url, tmp_path, "templates", "import", str(path), "--as", email)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "blocks.0.prompt: Unknown variable “nope” (not an input or an earlier block).",
        "blocks.1.max_rounds: A review that jumps back needs a limit on rounds (it could loop forever).",
    ]
    listed = json.loads(
        (await baton(database_url, tmp_path, "templates", "list", "--as", email, "--json")).stdout
    )
    assert "bad" not in {t["slug"] for t in listed}
    path.write_text("{not json")
    broken = await baton(database_url, tmp_path, "templates", "import", str(path), "--as", email)
    assert broken.returncode == 2 and broken.stderr.startswith("(file): not valid JSON")


async def test_another_users_private_template_is_not_found_from_the_cli(
    database_url, tmp_path, pool, user
):
    email = await _email(pool, user)
    other = await _email(pool, await make_user(pool))
    path = tmp_path / "r.json"
    path.write_text(json.dumps(REPORT))
    assert (
        await baton(
            database_url,
            tmp_path,
            "templates",
            "import",
            str(path),
            "--as",
            email,
            "--slug",
            "secret-one",
        )
    ).returncode == 0
    ran = await baton(
        database_url,
        tmp_path,
        "templates",
        "run",
        "secret-one",
        "--as",
        other,
        "--input",
        '{"topic": "x"}',
    )
    assert ran.returncode == 1 and "no template secret-one" in ran.stderr
    exported = await baton(
        database_url, tmp_path, "templates", "export", "secret-one", "--as", other
    )
    assert exported.returncode == 1
