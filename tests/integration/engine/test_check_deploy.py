"""`baton check-deploy` as a deploy script runs it: runs of three workflows wait for a person, then
the code changes under them (a workflow module loaded through BATON_WORKFLOW_MODULES, edited in
a temporary directory) and the real command says which runs would break, and where."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from app.core.db import open_pool
from app.core.migrations import apply_migrations
from app.engine import commands
from app.engine.advance import advance
from tests.integration.baton_process import baton_serve, run_baton
from tests.support.waiting import wait_for
from tests.support.web import csrf_of

MODULE = "deploycheck_flows"

# Three workflows that each journal two steps and then wait for an approval. `{draft}` is the
# name of dc-beta's second step: the edit a careless deploy makes.
FLOWS = """
from pydantic import BaseModel
from app.engine.registry import workflow


class Topic(BaseModel):
    topic: str
{extra_field}

def gather(topic):
    return {{"sources": [topic, topic.upper()]}}


def write(sources):
    return " / ".join(sources)


{workflows}
"""

ONE = """
@workflow(name="{name}", title="{name}", description="test", input=Topic, version={version}, hidden=True)
async def flow_{ident}_v{version}(run, inp):
    found = await run.step("gather", gather, inp.topic)
    text = await run.step("{draft}", write, found["sources"])
    decision = await run.hook("approve", show={{"text": text}})
    return {{"text": text, "action": decision.action}}
"""


def flows(*defs: tuple[str, int, str], extra_field: str = "") -> str:
    body = "\n".join(
        ONE.format(name=n, ident=n.replace("-", "_"), version=v, draft=d) for n, v, d in defs
    )
    return FLOWS.format(workflows=body, extra_field=extra_field)


ORIGINAL = flows(("dc-alpha", 1, "draft"), ("dc-beta", 1, "draft"), ("dc-gamma", 1, "draft"))


def module_dir(tmp_path: Path, label: str, source: str) -> Path:
    path = tmp_path / label
    path.mkdir()
    (path / f"{MODULE}.py").write_text(source)
    return path


@pytest.fixture(scope="module")
async def waiting_runs(tmp_path_factory, fresh_database):
    """A database whose only runs in flight are two of each workflow, waiting for approval."""
    url = fresh_database("baton_deploycheck")
    apply_migrations(url)
    path = module_dir(tmp_path_factory.mktemp("deploycheck"), "original", ORIGINAL)
    sys.path.insert(0, str(path))
    try:
        importlib.import_module(MODULE)
    finally:
        sys.path.remove(str(path))
    with psycopg.connect(url, autocommit=True) as conn:
        owner = conn.execute(
            "INSERT INTO users (email, tier) VALUES ('deploy@example.test', 'enterprise') "
            "RETURNING id"
        ).fetchone()[0]
    pool = await open_pool(url, min_size=1, max_size=4, name="deploycheck-test")
    runs: dict[str, list[str]] = {}
    try:
        for name in ("dc-alpha", "dc-beta", "dc-gamma"):
            for topic in ("tides", "bridges"):
                async with pool.connection() as conn:
                    run, _ = await commands.start_run(
                        conn, owner_id=owner, workflow=name, input={"topic": topic}
                    )
                await advance(pool, str(run.id))  # the engine's own advance, as a worker runs it
                runs.setdefault(name, []).append(str(run.id))
        async with pool.connection() as conn:
            statuses = await (
                await conn.execute("SELECT status, count(*) AS n FROM runs GROUP BY status")
            ).fetchall()
            # The runs were advanced here, not by a worker: their queued wake-ups are spent, and a
            # worker started later (the last test) must find only the waiting runs.
            await conn.execute("DELETE FROM procrastinate_jobs")
    finally:
        await pool.close()
    assert statuses == [{"status": "waiting", "n": 6}]
    return url, runs


def check(tmp_path: Path, url: str, source: str | None, *args: str):
    env = {
        "DATABASE_URL": url,
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "BATON_SECRET_KEY": "deploy-check-secret",
    }
    if source is not None:
        env |= {
            "PYTHONPATH": str(module_dir(tmp_path, f"code{len(list(tmp_path.iterdir()))}", source)),
            "BATON_WORKFLOW_MODULES": MODULE,
        }
    return run_baton("check-deploy", *args, cwd=tmp_path, **env)


def test_unchanged_code_breaks_no_run(tmp_path, waiting_runs):
    url, _ = waiting_runs
    done = check(tmp_path, url, ORIGINAL, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] is True and result["runs_checked"] == 6 and result["runs"] == []
    text = check(tmp_path, url, ORIGINAL)
    assert (
        text.returncode == 0
        and "6 runs in flight" in text.stdout
        and "none would break" in text.stdout
    )


def test_a_renamed_step_reports_exactly_that_workflows_runs_and_the_step(tmp_path, waiting_runs):
    url, runs = waiting_runs
    edited = flows(
        ("dc-alpha", 1, "draft"), ("dc-beta", 1, "write draft"), ("dc-gamma", 1, "draft")
    )
    done = check(tmp_path, url, edited, "--json")
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] is False and result["runs_checked"] == 6 and result["runs_at_risk"] == 2
    assert sorted(r["run_id"] for r in result["runs"]) == sorted(runs["dc-beta"])
    for r in result["runs"]:
        assert (r["workflow"], r["version"], r["status"], r["problem"], r["position"]) == (
            "dc-beta",
            1,
            "waiting",
            "diverged",
            1,
        )
        assert r["journal_step"] == {"name": "draft", "kind": "step"}
        assert r["code_step"] == {"name": "write draft", "kind": "step"}
    assert result["versions"] == [
        {"workflow": "dc-beta", "version": 1, "problem": "diverged", "runs": 2}
    ]

    text = check(tmp_path, url, edited)
    assert text.returncode == 1
    assert all(run_id in text.stdout for run_id in runs["dc-beta"])
    assert not any(run_id in text.stdout for run_id in runs["dc-alpha"] + runs["dc-gamma"])
    assert "journal: step 'draft'" in text.stdout and "code now: step 'write draft'" in text.stdout


def test_the_same_change_as_version_2_breaks_nothing(tmp_path, waiting_runs):
    url, _ = waiting_runs
    versioned = flows(
        ("dc-alpha", 1, "draft"),
        ("dc-beta", 1, "draft"),
        ("dc-beta", 2, "write draft"),
        ("dc-gamma", 1, "draft"),
    )
    done = check(tmp_path, url, versioned, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["runs_at_risk"] == 0


def test_a_removed_workflow_and_a_stricter_input_are_reported(tmp_path, waiting_runs):
    url, runs = waiting_runs
    changed = flows(
        ("dc-alpha", 1, "draft"), ("dc-beta", 1, "draft"), extra_field="    audience: str\n"
    )
    done = check(tmp_path, url, changed, "--json")
    assert done.returncode == 1, done.stderr
    by_run = {r["run_id"]: r for r in json.loads(done.stdout)["runs"]}
    assert set(by_run) == set(runs["dc-alpha"] + runs["dc-beta"] + runs["dc-gamma"])
    assert {by_run[i]["problem"] for i in runs["dc-gamma"]} == {"workflow_missing"}
    assert {by_run[i]["problem"] for i in runs["dc-alpha"] + runs["dc-beta"]} == {"input_invalid"}
    assert "audience" in by_run[runs["dc-alpha"][0]]["message"]


def test_usage_and_connection_errors_exit_2(tmp_path, waiting_runs):
    unreachable = check(tmp_path, "postgresql://postgres@127.0.0.1:1/nowhere", None)
    assert unreachable.returncode == 2 and "cannot reach the database" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    usage = run_baton("check-deploy", "--bogus", cwd=tmp_path)
    assert usage.returncode == 2 and "unrecognized arguments" in usage.stderr


async def test_a_starting_worker_warns_and_admin_shows_the_runs_at_risk(tmp_path, waiting_runs):
    url, runs = waiting_runs
    edited = flows(
        ("dc-alpha", 1, "draft"), ("dc-beta", 1, "write draft"), ("dc-gamma", 1, "draft")
    )
    admin = "deploy-admin@example.test"
    made = run_baton(
        "user",
        "create",
        admin,
        "--password",
        "a long password",
        "--admin",
        cwd=tmp_path,
        DATABASE_URL=url,
        BATON_DATA_DIR=str(tmp_path / "data"),
    )
    assert made.returncode == 0, made.stderr

    def last_check():
        with psycopg.connect(url) as conn:
            return conn.execute(
                "SELECT runs_checked, runs_at_risk, versions FROM deploy_checks "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone()

    code = module_dir(tmp_path, "edited", edited)
    with baton_serve(
        tmp_path,
        DATABASE_URL=url,
        BATON_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(code),
        BATON_WORKFLOW_MODULES=MODULE,
        BATON_SECRET_KEY="deploy-check-secret",
    ) as server:
        checked = await wait_for(last_check, timeout=60, what="the worker's deploy check")
        assert checked == (
            6,
            2,
            [{"workflow": "dc-beta", "version": 1, "problem": "diverged", "runs": 2}],
        )
        await wait_for(
            lambda: "deploy_check.runs_at_risk" in server.stderr(), what="the start-up warning"
        )
        warnings = [
            line for line in server.stderr().splitlines() if "deploy_check.runs_at_risk" in line
        ]
        assert len(warnings) == 1 and "dc-beta" in warnings[0]

        async with httpx.AsyncClient(base_url=server.url) as web:
            login = await web.get("/login")
            await web.post(
                "/login",
                data={
                    "email": admin,
                    "password": "a long password",
                    "_csrf_token": csrf_of(login.text),
                },
            )
            overview = await web.get("/admin")
            assert 'hx-get="/admin/deploy-check"' in overview.text
            card = await web.get("/admin/deploy-check", headers={"HX-Request": "true"})
        assert card.status_code == 200
        assert (
            "Runs at risk after the last deploy" in card.text and "2 runs would break" in card.text
        )
        for run_id in runs["dc-beta"]:
            assert run_id in card.text
        for run_id in runs["dc-alpha"] + runs["dc-gamma"]:
            assert run_id not in card.text
        assert (
            "/admin/runs?user=deploy%40example.test&amp;workflow=dc-beta&amp;status=waiting"
            in card.text
        )
        assert "“draft”" in card.text and "“write draft”" in card.text
    with psycopg.connect(url) as conn:  # the check only read: the runs still wait
        assert conn.execute("SELECT count(*) FROM runs WHERE status = 'waiting'").fetchone()[0] == 6
