"""Real chromium under the Content-Security-Policy (app/web/security_headers.py): the main pages
load with no CSP violation (no inline script, style or eval left), and what used to be inline
script still works — Enter sends a message and empties the composer, the workflow panel closes,
an upload too big is stopped before it is sent, a new key is selected for copying — as do HTMX
swaps, live updates and Swagger UI."""

import re
import time

import psycopg
from playwright.sync_api import Page, expect
from pydantic import BaseModel

from app.engine.registry import workflow
from app.engine.run import Run
from tests.browser.test_dashboard_browser import sign_up_enterprise, start
from tests.support.model_server import Reply

HALFWAY = "test-csp-halfway"


class NoInput(BaseModel):
    pass


@workflow(
    name=HALFWAY,
    title="CSP test: halfway",
    description="Shows progress, then waits.",
    input=NoInput,
    hidden=True,
)
async def halfway(run: Run, inp: NoInput) -> dict:
    await run.progress(3, 4, "three of four")
    decision = await run.hook("approve it", "approval", show={"text": "Approve to finish."})
    return {"approved": decision.approved}


def watch_csp(page: Page) -> list[str]:
    """Every CSP violation the page reports: Chrome's console message and the DOM event."""
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.add_init_script("""document.addEventListener("securitypolicyviolation", (e) =>
        console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));""")
    return violations


def visit(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response.status == 200, path
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path


def test_the_main_pages_run_under_the_policy_with_no_violation(page: Page, database_url, model):
    violations = watch_csp(page)
    user_id = sign_up_enterprise(page, database_url)

    # Chat: Enter sends (HTMX post), the reply streams in, the composer is emptied.
    visit(page, "/chat")
    model.script(Reply("Hello from the **model**.\n\n| item | price |\n|:--|--:|\n| tea | 3.50 |"))
    page.get_by_label("Message").fill("Hi there")
    page.get_by_label("Message").press("Enter")
    expect(page.locator("article.msg-assistant").last.locator("strong")).to_have_text("model")
    expect(page.get_by_label("Message")).to_have_value("")
    expect(page.locator("article.msg-assistant td.align-right")).to_have_css(
        "text-align", "right"
    )  # not style=

    # The workflow panel opens (HTMX fragment) and its Close button empties it.
    page.locator("a.composer-workflows").click()
    expect(page.locator("#workflow-panel .workflow-choice").first).to_be_visible()
    page.locator("#workflow-panel").get_by_role("button", name="Close").click()
    expect(page.locator("#workflow-panel")).to_be_empty()

    # An upload over the form's limit is refused in the page, before anything is sent.
    page.locator("a.composer-workflows").click()
    page.locator(".workflow-choice", has_text="document").first.click()
    form = page.locator("form.upload-form")
    expect(form).to_be_visible()
    form.evaluate("f => f.dataset.maxBody = '10'")  # any file is "too big" now
    form.locator("input[type=file]").set_input_files(
        [{"name": "a.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 " + b"x" * 100}]
    )
    form.locator("textarea[name=question]").fill("What do they say?")
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    form.get_by_role("button", name="Upload and start").click()
    expect(form.locator(".upload-too-big")).to_be_visible()
    assert posted == []  # stopped in htmx:beforeRequest, before anything was sent
    form.get_by_role("button", name="Cancel").click()
    expect(page.locator("#workflow-panel")).to_be_empty()

    # The dashboard and a run page: live rows, the progress bar, the waiting badge.
    run_id = start(database_url, user_id, HALFWAY)
    visit(page, "/workflows")
    row = page.locator(f"#run-{run_id}")
    expect(row.locator(".run-status")).to_have_text("Waiting")
    visit(page, f"/workflows/{run_id}")
    expect(page.locator(".run-status-line")).to_contain_text("Waiting for: approve it")
    bar = page.locator(".run-status-line progress.run-progress-bar")
    expect(bar).to_have_attribute("value", "75")
    # drawn by baton.css, not by a style attribute (measured in one go: live updates re-render the page)
    assert (
        page.evaluate(
            "() => document.querySelector('.run-status-line progress').getBoundingClientRect().width"
        )
        > 20
    )

    # Approvals, and the same review by the e-mailed link.
    visit(page, "/approvals")
    expect(page.locator("main")).to_contain_text("approve it")
    with psycopg.connect(database_url) as conn:
        hook_id, token = conn.execute(
            "SELECT id, token FROM hooks WHERE run_id = %s", (run_id,)
        ).fetchone()
    visit(page, f"/review/{token}")
    expect(page.get_by_role("button", name=re.compile("Approve"))).to_be_visible()
    visit(page, f"/approvals/{hook_id}")
    with page.expect_response(
        lambda r: r.request.method == "POST" and f"/approvals/{hook_id}" in r.url
    ) as decided:
        page.get_by_role(
            "button", name=re.compile("Approve")
        ).first.click()  # through HTMX (or the form)
    assert decided.value.status in (
        200,
        303,
    )  # a boosted form: the fragment, or a redirect to the page
    visit(page, f"/workflows/{run_id}")
    expect(page.locator(".run-status-line")).to_contain_text("Completed", timeout=15_000)

    # API keys: a new key is shown once and selected when focused.
    visit(page, "/settings/api-keys")
    page.get_by_label("Name").fill("csp test")
    page.get_by_role("button", name=re.compile("Create")).click()
    key = page.get_by_label("New API key")
    expect(key).to_be_visible()
    key.focus()
    assert key.evaluate(
        "i => i.selectionStart === 0 && i.selectionEnd === i.value.length && i.value.length > 20"
    )

    # The API's docs: Swagger UI renders the operations from /api/openapi.json.
    visit(page, "/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Baton API", timeout=15_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/runs").first).to_be_visible()
    page.locator(
        ".opblock-summary-path", has_text="/api/v1/workflows"
    ).first.click()  # expands, renders more
    expect(page.locator(".opblock-body").first).to_be_visible()

    assert violations == []


def test_a_page_cannot_be_framed(page: Page, live_server):
    violations = watch_csp(page)
    page.set_content(f'<iframe id="f" src="{live_server.url}/login"></iframe>')
    expect(page.locator("#f")).to_be_attached()
    deadline = time.monotonic() + 10
    while not any("frame-ancestors" in v for v in violations):
        assert time.monotonic() < deadline, f"the login page was framed; console: {violations}"
        page.wait_for_timeout(50)
    assert page.frame_locator("#f").get_by_role("button", name="Log in").count() == 0


def test_the_admin_and_account_pages_run_under_the_policy(page: Page, database_url):
    violations = watch_csp(page)
    user_id = sign_up_enterprise(page, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET is_admin = true WHERE id = %s", (user_id,))
    visit(page, "/admin")
    page.get_by_label("Period").select_option(index=1)  # applied at once (data-submit-on-change)
    expect(page).to_have_url(re.compile(r"/admin\?days=\d+"))
    for path in (
        "/admin/users",
        "/admin/tiers",
        "/admin/runs",
        "/admin/prices",
        "/admin/outbox",
        "/account",
        "/notifications",
        "/settings/connectors",
        "/settings/api-keys",
    ):
        visit(page, path)
        expect(page.locator("main")).not_to_be_empty()
    assert violations == []
