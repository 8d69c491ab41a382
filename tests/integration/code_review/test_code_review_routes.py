"""Over HTTP: the code-review card shows the comments anchored to file:line and each test run's
output; "Fixes pushed" and the signed CI endpoint deliver a new head; nobody else sees or acts."""

from __future__ import annotations

import json

from app.core.secrets_box import SecretBox
from app.web.webhooks import signature
from tests.integration.code_review.conftest import FIXED, commit
from tests.integration.workflows.conftest import waiting_hook
from tests.integration.workflows.web import signed_in
from tests.support.engine import start, wait_status
from tests.support.web import htmx, token


async def test_the_card_and_the_fixes_pushed_button(app_client, pool, worker, reviewer, calc_repo):
    _, user = await signed_in(app_client, pool)
    run = await start(
        pool, user, "code-review", repository=str(calc_repo), base="main", head="feature"
    )
    await waiting_hook(pool, run.id, "wait for fixes (1)", timeout=30)
    page = await app_client.get(f"/code-review/{run.id}")
    assert page.status_code == 200
    assert '<code class="review-anchor">calc.js:2</code>' in page.text
    assert "mul adds instead of multiplying &lt;b&gt;!&lt;/b&gt;" in page.text  # model text escaped
    assert "nowhere.js" not in page.text
    assert (
        "Test run 1: <strong>Tests failed</strong>" in page.text
        and "FAIL mul: got 5, want 6" in page.text
    )
    assert "Fixes pushed" in page.text and f"/hooks/code-review/{run.id}" in page.text

    csrf = await token(app_client, f"/code-review/{run.id}")
    bad = await app_client.post(
        f"/code-review/{run.id}/fixes", headers=htmx(csrf), data={"ref": "--upload-pack=x"}
    )
    assert "Not a git ref" in bad.text
    commit(calc_repo, "fix mul", {"calc.js": FIXED})
    pushed = await app_client.post(
        f"/code-review/{run.id}/fixes", headers=htmx(csrf), data={"ref": "feature"}
    )
    assert pushed.status_code == 200 and "running the tests again" in pushed.text
    done = await wait_status(pool, run.id, "completed", timeout=30)
    assert done["output"]["approved"] is True
    final = await app_client.get(f"/code-review/{run.id}")
    assert (
        "Test run 2: <strong>Tests passed</strong>" in final.text
        and "Fixes pushed" not in final.text
    )
    assert "Download PDF" in final.text

    await signed_in(app_client, pool)  # someone else
    assert (await app_client.get(f"/code-review/{run.id}")).status_code == 404
    other = await app_client.post(
        f"/code-review/{run.id}/fixes",
        headers=htmx(await token(app_client)),
        data={"ref": "main"},
    )
    assert other.status_code == 404


async def test_the_signed_ci_endpoint_delivers_fixes(
    app_client, pool, worker, reviewer, calc_repo, model_settings
):
    _, user = await signed_in(app_client, pool)
    run = await start(
        pool, user, "code-review", repository=str(calc_repo), base="main", head="feature"
    )
    await waiting_hook(pool, run.id, "wait for fixes (1)", timeout=30)
    url = f"/hooks/code-review/{run.id}"
    secret = SecretBox(model_settings.secret_key).derived_secret(f"code-review-webhook:{run.id}")
    fix = commit(calc_repo, "fix mul", {"calc.js": FIXED})
    body = json.dumps({"ref": fix}).encode()
    assert (await app_client.post(url, content=body)).status_code == 401
    wrong = await app_client.post(
        url, content=body, headers={"X-Baton-Signature": signature("not-the-secret", body)}
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_signature"
    bad = json.dumps({"ref": "-x"}).encode()
    assert (
        await app_client.post(
            url, content=bad, headers={"X-Baton-Signature": signature(secret, bad)}
        )
    ).status_code == 400
    ok = await app_client.post(
        url, content=body, headers={"X-Baton-Signature": signature(secret, body)}
    )
    assert ok.status_code == 200 and ok.json()["ref"] == fix
    done = await wait_status(pool, run.id, "completed", timeout=30)
    assert done["output"]["tests"][-1] == {"commit": fix, "outcome": "passed", "passed": True}
    late = await app_client.post(
        url, content=body, headers={"X-Baton-Signature": signature(secret, body)}
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "invalid_state"


async def test_a_test_tool_missing_in_the_sandbox_is_a_setup_error_not_failing_tests(
    app_client, pool, worker, reviewer, calc_repo
):
    _, user = await signed_in(app_client, pool)
    # pytest is not installed under /usr here: inside the sandbox `pytest` is "not found" (exit 127).
    run = await start(
        pool,
        user,
        "code-review",
        repository=str(calc_repo),
        base="main",
        head="feature",
        test_command="pytest -q",
    )
    done = await wait_status(pool, run.id, "completed", "waiting", timeout=30)
    assert done["status"] == "completed"  # no waiting days for fixes that cannot help
    page = await app_client.get(f"/code-review/{run.id}")
    assert "Tests failed" not in page.text and "Fixes pushed" not in page.text
    assert "Test run 1: <strong>Test tool not found (setup error)</strong>" in page.text
    assert "could not start the test command" in page.text and "/workspace/.venv/bin" in page.text
    assert "a setup problem, not failing tests" in done["output"]["document"]


async def test_a_review_answer_that_cannot_be_read_is_said_and_shown_as_written(
    app_client, pool, worker, model, calc_repo
):
    from tests.support.model_server import Reply

    def prose(request):
        system = (request.body or {}).get("messages", [{}])[0].get("content", "")
        return Reply(
            "Looks mostly fine, but mul() adds instead of multiplying."
            if "code reviewer" in system
            else "Echo"
        )

    model.handler = prose
    _, user = await signed_in(app_client, pool)
    run = await start(
        pool,
        user,
        "code-review",
        repository=str(calc_repo),
        base="main",
        head="feature",
        test_command="node test.js",
        max_iterations=1,
    )
    await wait_status(pool, run.id, "completed", timeout=30)
    page = await app_client.get(f"/code-review/{run.id}")
    assert "No comments yet." not in page.text
    assert "The model's answer could not be read as review comments" in page.text
    assert "mul() adds instead of multiplying." in page.text
