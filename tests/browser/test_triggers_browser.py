"""Real chromium: a person makes a trigger from the form, copies its curl example with the Copy
button, the example is run as it is (bash, curl, openssl) against the live server, and the delivery
and its run appear on the trigger's page; the run's page says which trigger started it. The
trigger pages fit a 360 px phone and read well in dark mode."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

import tests.integration.api.workflows  # noqa: F401  (registers test-api-echo, run by the in-process worker)
from tests.browser.accounts import sign_up_on
from tests.browser.htmx import settled
from tests.browser.test_phone_layout_browser import PHONE, assert_fits
from tests.browser.test_themes_browser import CONTRAST, background_is_dark
from tests.support.fixtures import forget_ip_limits, make_test_llm
from tests.support.live_server import LiveServer, free_port


@pytest.fixture(scope="module")
def trigger_server(model_settings, database_url) -> Iterator[LiveServer]:
    """A Baton whose base URL is its own address, so the examples it shows reach it as they are."""
    from app.web.app import create_app

    port = free_port()
    settings = dataclasses.replace(model_settings, base_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, database_url, run_worker=True, llm=make_test_llm(settings))
    with LiveServer(app, port=port) as server:
        yield server


@pytest.fixture
def person(browser, trigger_server, database_url) -> Iterator[Page]:
    forget_ip_limits(database_url)
    context = browser.new_context(
        base_url=trigger_server.url, viewport={"width": 1200, "height": 800}
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=trigger_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_up_on(page, database_url, tier="enterprise", prefix="trigger")
    yield page
    context.close()


def make_trigger(page: Page, name: str) -> None:
    page.goto("/triggers")
    page.get_by_role("link", name="New trigger").click()
    page.get_by_label("Name").fill(name)
    settled(page)
    with page.expect_response(
        re.compile(r"/triggers/mapping\?")
    ):  # the target's mapping boxes are swapped in
        page.get_by_label("Starts").select_option(label="API test: echo")
    expect(page.locator("#f-target.htmx-request")).to_have_count(0)  # and swapped
    expect(page.locator("input[name='map.topic']")).to_have_value("/topic")
    page.get_by_label("Topic").fill("/article/headline")
    page.get_by_role("button", name="Create trigger").click()
    expect(page.get_by_role("heading", name="Trigger created")).to_be_visible()


def test_a_trigger_made_in_the_browser_starts_a_run_from_its_copied_example(person: Page):
    make_trigger(person, "CMS: new article")
    secret = person.locator("#trigger-secret").input_value()
    assert secret.startswith("whsec_")
    person.locator("button[data-copies='example-curl']").click()
    person.wait_for_function(
        "async () => (await navigator.clipboard.readText()).includes('openssl')"
    )
    copied = person.evaluate("navigator.clipboard.readText()")
    assert secret in copied and "openssl dgst -sha256 -hmac" in copied

    # The example as copied, with the body a CMS would send: the only edit a developer makes.
    body = json.dumps({"article": {"headline": "Trains run on time"}})
    example = re.sub(r"^BODY=.*$", f"BODY='{body}'", copied, count=1, flags=re.MULTILINE)
    sent = subprocess.run(["bash", "-c", example], capture_output=True, text=True, timeout=60)
    assert sent.returncode == 0, sent.stderr
    answer = json.loads(sent.stdout)
    assert answer.get("replayed") is False and answer["trigger"] == "CMS: new article", (
        answer,
        example,
    )

    person.get_by_role("link", name="Go to the trigger").click()
    assert secret not in person.evaluate(
        "JSON.stringify(localStorage)"
    )  # no copy in htmx's history cache
    deliveries = person.locator("#deliveries")
    expect(deliveries).to_contain_text("202")
    run_link = deliveries.locator(f"a[href='/workflows/{answer['run_id']}']")
    expect(run_link).to_be_visible()
    expect(deliveries).to_contain_text("completed", timeout=20_000)  # the section re-reads itself
    run_link.click()
    expect(person.locator("main")).to_contain_text("Started by trigger CMS: new article")
    expect(person.locator("main")).to_contain_text("Trains run on time")


def test_a_wrong_signature_shows_as_a_refused_delivery(person: Page):
    make_trigger(person, "Refuses forgeries")
    copied = person.locator("#example-curl").inner_text()
    forged = re.sub(r"^SECRET=.*$", "SECRET='whsec_guessed'", copied, count=1, flags=re.MULTILINE)
    sent = subprocess.run(["bash", "-c", forged], capture_output=True, text=True, timeout=60)
    assert json.loads(sent.stdout)["error"]["code"] == "invalid_signature"
    person.get_by_role("link", name="Go to the trigger").click()
    expect(person.locator("#deliveries")).to_contain_text("401")
    expect(person.locator("#deliveries")).to_contain_text("none")  # no run


def test_the_trigger_pages_fit_a_phone_and_read_well_in_dark_mode(
    browser, trigger_server, database_url
):
    forget_ip_limits(database_url)
    context = browser.new_context(
        base_url=trigger_server.url, viewport=PHONE, has_touch=True, color_scheme="dark"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_up_on(page, database_url, tier="enterprise", prefix="trigger-phone")
        page.goto("/triggers/new")
        assert_fits(page)
        assert background_is_dark(page)
        page.get_by_label("Name").fill("A phone's trigger with a rather long name to wrap")
        page.get_by_role("button", name="Create trigger").click()
        expect(page.get_by_role("heading", name="Trigger created")).to_be_visible()
        assert_fits(page)
        page.get_by_role("link", name="Go to the trigger").click()
        expect(page.locator("#deliveries")).to_be_visible()
        assert_fits(page)
        for selector in ("main h1", "main pre.example", "main .badge-ok", "main .facts dt"):
            found = page.evaluate(CONTRAST, selector)
            assert found and found["ratio"] >= 4.5, (selector, found)
        page.goto("/triggers")
        assert_fits(page)
        # A tablet: the header (with Triggers in it) folds behind Menu rather than pushing the page sideways.
        page.set_viewport_size({"width": 820, "height": 1000})
        page.goto("/triggers")
        assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 820
        expect(page.get_by_text("Menu")).to_be_visible()
    finally:
        context.close()
