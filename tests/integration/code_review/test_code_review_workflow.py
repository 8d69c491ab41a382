"""The code-review workflow end to end on a real worker: a git repository whose tests fail at the
first head, a fix commit delivered by the signed webhook, the tests run again in the sandbox, the
run ends approved with its report."""

from __future__ import annotations

import json

from app.core.secrets_box import SecretBox
from app.engine.hooks import resolve_hook
from app.web.webhooks import signature
from tests.integration.code_review.conftest import FIXED, commit
from tests.integration.workflows.conftest import waiting_hook
from tests.support.engine import make_user, start, wait_status


async def steps(pool, run_id):
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT name, status, output FROM run_steps WHERE run_id = %s "
                "AND kind NOT IN ('now', 'uuid') ORDER BY seq",
                (run_id,),
            )
        ).fetchall()


async def test_fails_then_a_fix_delivered_by_the_webhook_is_approved(
    pool, worker, reviewer, calc_repo, app_client, model_settings
):
    user = await make_user(pool, "pro")
    run = await start(
        pool, user, "code-review", repository=str(calc_repo), base="main", head="feature"
    )
    hook = await waiting_hook(pool, run.id, "wait for fixes (1)", timeout=30)
    assert hook["kind"] == "webhook"
    first = {s["name"]: s for s in await steps(pool, run.id)}
    assert first["run tests (1)"]["output"]["passed"] is False
    assert first["run tests (1)"]["output"]["command"] == "npm test"  # detected from package.json
    assert "FAIL mul: got 5, want 6" in first["run tests (1)"]["output"]["output"]
    assert first["run tests (1)"]["output"]["sandbox"] == "bwrap"
    comments = first["review diff"]["output"]
    assert comments == [
        {
            "file": "calc.js",
            "line": 2,
            "severity": "issue",
            "comment": "mul adds instead of multiplying <b>!</b>",
        }
    ]

    fix = commit(calc_repo, "fix mul", {"calc.js": FIXED})
    body = json.dumps({"ref": "feature"}).encode()
    secret = SecretBox(model_settings.secret_key).derived_secret(f"code-review-webhook:{run.id}")
    unsigned = await app_client.post(f"/hooks/{hook['token']}", content=body)
    assert unsigned.status_code == 401
    delivered = await app_client.post(
        f"/hooks/{hook['token']}",
        content=body,
        headers={"X-Baton-Signature": signature(secret, body)},
    )
    assert delivered.status_code == 200, delivered.text

    done = await wait_status(pool, run.id, "completed", timeout=30)
    output = done["output"]
    assert output["approved"] is True
    assert [t["passed"] for t in output["tests"]] == [False, True]
    assert output["tests"][1]["commit"] == fix
    names = [s["name"] for s in await steps(pool, run.id)]
    for expected in (
        "review diff",
        "run tests (1)",
        "wait for fixes (1)",
        "fetch fixes (1)",
        "run tests (2)",
        "write report",
    ):
        assert expected in names
    assert (
        names.index("run tests (1)")
        < names.index("wait for fixes (1)")
        < names.index("run tests (2)")
    )
    async with pool.connection() as conn:
        files = await (
            await conn.execute(
                "SELECT name, data FROM artifacts WHERE run_id = %s ORDER BY name", (run.id,)
            )
        ).fetchall()
    assert [f["name"].rsplit(".", 1)[1] for f in files] == ["html", "pdf"]
    html = bytes(files[0]["data"]).decode()
    assert "calc.js:2" in html and "&lt;b&gt;" in html and "Approved" in html


async def test_a_wrong_ref_keeps_the_run_waiting_and_the_button_path_works(
    pool, worker, reviewer, calc_repo
):
    user = await make_user(pool, "pro")
    run = await start(
        pool,
        user,
        "code-review",
        repository=str(calc_repo),
        base="main",
        head="feature",
        test_command="node test.js",
    )
    hook = await waiting_hook(pool, run.id, "wait for fixes (1)", timeout=30)
    async with pool.connection() as conn:
        await resolve_hook(conn, hook["token"], "deliver", {"ref": "no-such-branch"}, owner_id=user)
    again = await waiting_hook(pool, run.id, "wait for fixes (1)", timeout=30)
    assert again["id"] != hook["id"]
    fix = commit(calc_repo, "fix mul", {"calc.js": FIXED})
    async with pool.connection() as conn:
        await resolve_hook(conn, again["token"], "deliver", {"ref": fix}, owner_id=user)
    done = await wait_status(pool, run.id, "completed", timeout=30)
    assert done["output"]["approved"] is True
    failed = [s for s in await steps(pool, run.id) if s["status"] == "failed"]
    assert [s["name"] for s in failed] == ["fetch fixes (1)"]


async def test_a_local_path_outside_the_allowed_roots_is_refused(
    pool, worker, reviewer, calc_repo, monkeypatch
):
    monkeypatch.setenv("BATON_REPO_ROOTS", "/nonexistent-root")
    user = await make_user(pool, "pro")
    run = await start(
        pool, user, "code-review", repository=str(calc_repo), base="main", head="feature"
    )
    done = await wait_status(pool, run.id, "failed", timeout=20)
    assert "outside the directories allowed" in done["error"]["message"]


async def test_without_a_sandbox_the_tests_are_refused_with_a_clear_message(
    pool, worker, reviewer, calc_repo, monkeypatch
):
    from app.steps import sandbox

    monkeypatch.setattr(sandbox, "probe", lambda: "bwrap is not installed")
    user = await make_user(pool, "pro")
    run = await start(
        pool, user, "code-review", repository=str(calc_repo), base="main", head="feature"
    )
    done = await wait_status(pool, run.id, "failed", timeout=20)
    assert (
        "Tests were not run: no sandbox is available on this server (bwrap is not installed)"
        in done["error"]["message"]
    )
    assert "BATON_SANDBOX=unsafe-local" in done["error"]["message"]


PATCH = """diff --git a/calc.js b/calc.js
--- a/calc.js
+++ b/calc.js
@@ -1 +1,2 @@
 module.exports.add = (a, b) => a + b;
+module.exports.mul = (a, b) => a * b;
"""


async def test_a_patch_is_applied_on_the_base_and_tested(pool, worker, reviewer, calc_repo):
    user = await make_user(pool, "pro")
    run = await start(
        pool, user, "code-review", repository=str(calc_repo), base="main", patch=PATCH
    )
    done = await wait_status(pool, run.id, "completed", timeout=30)
    assert done["output"]["approved"] is True and done["output"]["tests"][0]["passed"] is True
    assert done["output"]["comments"][0]["file"] == "calc.js"


async def test_a_patch_alone_is_reviewed_without_running_anything(pool, worker, reviewer):
    user = await make_user(pool, "pro")
    run = await start(pool, user, "code-review", patch=PATCH)
    done = await wait_status(pool, run.id, "completed", timeout=30)
    assert done["output"]["tests"] == [] and done["output"]["document"].startswith(
        "**Reviewed**: no repository"
    )
    names = [s["name"] for s in await steps(pool, run.id)]
    assert "check sandbox" not in names and not any(n.startswith("run tests") for n in names)


async def test_a_cancelled_review_leaves_no_mirror_behind(
    pool, worker, reviewer, calc_repo, model_settings
):
    from app.engine.commands import cancel_run
    from app.steps.git import mirror_path

    user = await make_user(pool, "pro")
    run = await start(
        pool, user, "code-review", repository=str(calc_repo), base="main", head="feature"
    )
    await waiting_hook(pool, run.id, "wait for fixes (1)", timeout=30)
    mirror = mirror_path(model_settings.data_dir, str(run.id))
    assert (mirror / "HEAD").exists()  # noqa: ASYNC240
    async with pool.connection() as conn:
        await cancel_run(conn, run.id, owner_id=user)
    assert not mirror.exists()  # noqa: ASYNC240
