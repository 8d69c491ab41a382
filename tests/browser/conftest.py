"""Browser tests: Playwright driving Debian's chromium (/usr/bin/chromium), never a downloaded one.

Fixtures for reuse:
    live_server   Baton on a real port (uvicorn in a thread, in-process worker), answering with the
                  scripted model server; `live_server.url` (one per test module)
    browser       one headless chromium per test module
    page          a fresh browser context and page per test (its own cookies)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.config import Settings
from tests.support.fixtures import forget_ip_limits, make_test_llm
from tests.support.live_server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists() or os.environ.get("CI"):
        return  # in CI a missing chromium must fail loudly, not skip
    skip = pytest.mark.skip(
        reason=f"no chromium at {CHROMIUM} (install: apt-get install -y chromium)"
    )
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(skip)


# Module scope, not session: the in-process worker and Playwright's sync loop (which makes asyncio
# think a loop is running in the main thread) must be gone before other modules' async tests run.
@pytest.fixture(scope="module")
def live_server(model_settings: Settings, database_url: str) -> Iterator[LiveServer]:
    from app.web.app import create_app

    app = create_app(
        model_settings, database_url, run_worker=True, llm=make_test_llm(model_settings)
    )
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, database_url):
    forget_ip_limits(database_url)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1200, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
