"""`baton runs`, `baton hooks resolve` and `baton selftest` as an operator types them."""

import asyncio
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from tests.conftest import baton_env

BATON = str(Path(sys.executable).with_name("baton"))


async def baton(database_url, tmp_path, *args, modules: str = ""):
    """Run the CLI without blocking the event loop (the in-process worker shares it); `modules`
    are test workflow modules it loads (BATON_WORKFLOW_MODULES)."""
    proc = await asyncio.create_subprocess_exec(
        BATON,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=baton_env(
            DATABASE_URL=database_url,
            BATON_DATA_DIR=str(tmp_path),
            BATON_SECRET_KEY="cli-test-secret-key",
            BATON_WORKFLOW_MODULES=modules,
        ),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return SimpleNamespace(returncode=proc.returncode, stdout=out.decode(), stderr=err.decode())


async def test_start_show_resolve_and_list(database_url, tmp_path, worker):
    started = await baton(
        database_url,
        tmp_path,
        "runs",
        "start",
        "selftest",
        "--as",
        "ops@example.test",
        "--create-user",
        "--input",
        '{"steps": 2, "approval": true}',
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip().splitlines()[-1]
    for _ in range(100):
        shown = json.loads(
            (await baton(database_url, tmp_path, "runs", "show", run_id, "--json")).stdout
        )
        if shown["status"] == "waiting":
            break
    assert shown["status"] == "waiting"
    assert set(shown) >= {
        "id",
        "workflow",
        "version",
        "status",
        "input",
        "output",
        "error",
        "created_at",
        "started_at",
        "completed_at",
        "steps",
        "hooks",
    }
    assert [s["name"] for s in shown["steps"]] == ["step 1", "step 2", "approval"]
    [hook] = shown["hooks"]
    assert hook["status"] == "waiting" and len(hook["token"]) >= 43
    decided = await baton(
        database_url, tmp_path, "hooks", "resolve", hook["token"], "--action", "approve", "--json"
    )
    assert decided.returncode == 0, decided.stderr
    again = await baton(
        database_url, tmp_path, "hooks", "resolve", hook["token"], "--action", "approve"
    )
    assert again.returncode == 1 and "already decided" in again.stderr
    listed = json.loads((await baton(database_url, tmp_path, "runs", "list", "--json")).stdout)
    assert run_id in [r["id"] for r in listed]


async def test_unknown_user_and_bad_input_are_one_line_errors(database_url, tmp_path):
    missing = await baton(
        database_url, tmp_path, "runs", "start", "selftest", "--as", "nobody@example.test"
    )
    assert (
        missing.returncode == 1
        and "--create-user" in missing.stderr
        and "Traceback" not in missing.stderr
    )
    bad = await baton(database_url, tmp_path, "runs", "show", "not-a-uuid")
    assert bad.returncode == 1 and "no such run" in bad.stderr


async def test_selftest_command_reports_a_completed_run(database_url, tmp_path):
    done = await baton(
        database_url,
        tmp_path,
        "selftest",
        "--steps",
        "30",
        "--approval",
        "--fan-out",
        "4",
        "--fail-attempts",
        "1",
        "--sleep",
        "0.3",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "completed" and report["steps"] == 30
    assert report["output"] == {
        "steps": 30,
        "approved": True,
        "fan_out_sum": 14,
        "flaky_attempts": 2,
    }
    assert report["per_step_ms"] > 0
