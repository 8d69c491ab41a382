"""Security headers on every kind of response (app/web/security_headers.py): pages and fragments
cannot be framed and run scripts from our files only; the e-mail review pages, whose URL is a
credential, send no Referer; JSON allows nothing; static files are not sniffed. And the templates
keep what the policy needs: no inline scripts, event-handler or style attributes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

import tests.integration.api.workflows  # noqa: F401  (registers the test workflows)
from app.core.paths import TEMPLATES_DIR
from tests.integration.api.conftest import new_account, start, waiting_hook
from tests.integration.api.workflows import WEBHOOK
from tests.support.web import sign_up

PAGE = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.fixture
async def client(settings, database_url):
    from app.web.app import create_app

    async with AsyncTestClient(create_app(settings, database_url, run_worker=False)) as client:
        client.follow_redirects = False
        yield client


def csp(response) -> dict[str, str]:
    """The Content-Security-Policy as {directive: sources}."""
    policy = response.headers["content-security-policy"]
    return dict((part.strip() + " ").split(" ", 1) for part in policy.split(";"))


def assert_page_policy(response) -> None:
    assert response.headers["content-type"].startswith("text/html"), response.headers
    for name, value in PAGE.items():
        assert response.headers[name] == value, (name, response.headers)
    directives = csp(response)
    assert directives["frame-ancestors"].strip() == "'none'"
    assert directives["script-src"].strip() == "'self'"  # no inline scripts, no eval, no CDN
    assert directives["style-src"].strip() == "'self'"
    assert directives["object-src"].strip() == "'none'"


async def test_pages_fragments_and_error_pages_get_the_page_policy(client):
    assert_page_policy(await client.get("/login"))  # signed out
    await sign_up(client)
    chat = await client.get("/chat")
    assert chat.status_code == 200
    assert_page_policy(chat)
    for path in ("/workflows", "/approvals"):
        assert_page_policy(await client.get(path))
    fragment = await client.get("/chat/workflows", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert_page_policy(fragment)
    missing = await client.get("/no/such/page")
    assert missing.status_code == 404
    assert_page_policy(missing)


async def test_the_review_page_by_token_sends_no_referer(client, pool, worker):
    account = await new_account(pool)
    run = await start(pool, account, WEBHOOK, gate=True)
    hook = await waiting_hook(pool, run.id, "gate")
    page = await client.get(f"/review/{hook['token']}")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert (
        page.headers["x-frame-options"] == "DENY"
        and csp(page)["frame-ancestors"].strip() == "'none'"
    )
    wrong = await client.get("/review/" + "x" * 40)  # an unknown token is in the URL all the same
    assert wrong.status_code == 404 and wrong.headers["referrer-policy"] == "no-referrer"


async def test_json_static_and_docs_get_their_headers(client, pool):
    account = await new_account(pool)
    api = await client.get("/api/v1/workflows", headers=account.headers)
    assert api.status_code == 200 and api.headers["content-type"].startswith("application/json")
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert api.headers["x-content-type-options"] == "nosniff"
    refused = await client.get("/api/v1/workflows")
    assert refused.status_code == 401 and refused.headers["content-security-policy"].startswith(
        "default-src 'none'"
    )

    for path in (
        "/static/css/baton.css",
        "/static/js/baton.js",
        "/static/vendor/htmx-2.0.11.min.js",
    ):
        static = await client.get(path)
        assert (
            static.status_code == 200 and static.headers["x-content-type-options"] == "nosniff"
        ), path
        assert static.headers["referrer-policy"] == "same-origin"

    docs = await client.get("/api/docs")
    assert docs.status_code == 200
    assert_page_policy(docs)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", docs.text)  # every script is a file


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an event-handler attribute"),
    (re.compile(r"\shx-on[:-]", re.I), "an hx-on attribute (evaluated code)"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"<style[\s>]", re.I), "an inline <style> block"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]
# Not pages under the policy: mails (read in mail clients) and reports (their own sandboxed policy).
OWN_POLICY = ("emails", "reports")


def test_no_template_needs_inline_script_or_style():
    found = []
    for path in sorted(Path(TEMPLATES_DIR).rglob("*.html")):
        if path.relative_to(TEMPLATES_DIR).parts[0] in OWN_POLICY:
            continue
        text = re.sub(
            r"\{#.*?#\}", "", path.read_text(), flags=re.S
        )  # Jinja comments render nothing
        found += [
            f"{path.relative_to(TEMPLATES_DIR)}: {what}"
            for pattern, what in INLINE
            if pattern.search(text)
        ]
    assert found == []
