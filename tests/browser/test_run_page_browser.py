"""Real chromium: the run page's waterfall reads on a laptop and on a phone, and a step opens to its output."""

from playwright.sync_api import Page, expect

from tests.browser.test_dashboard_browser import sign_up_enterprise, start


def box(page: Page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def test_the_waterfall_lays_out_at_laptop_and_phone_widths(page: Page, database_url):
    user_id = sign_up_enterprise(page, database_url)
    run_id = start(
        database_url, user_id, "selftest", steps=3, step_ms=30, fail_attempts=1, sleep_s=0.4
    )
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"/workflows/{run_id}")
    expect(page.locator(".run-status-line .run-status")).to_have_text("Completed", timeout=15_000)
    rows = page.locator(".wf-row")
    expect(rows).to_have_count(5)
    expect(page.locator(".wf-num")).to_have_text(["1", "2", "3", "4", "5"])
    expect(page.locator(".wf-attempts")).to_have_text("2 attempts")

    flaky = rows.nth(3)
    flaky.locator("summary").click()
    expect(flaky.locator(".wf-output")).to_be_visible()
    expect(flaky.locator(".wf-body")).to_contain_text("2 attempts")

    # Laptop: name, bar and duration side by side; the bar has real width; nothing scrolls sideways.
    name, track = box(page, ".wf-row .wf-name"), box(page, ".wf-row .wf-track")
    assert (
        track["x"] >= name["x"] + name["width"] - 1 and abs(track["y"] - name["y"]) < name["height"]
    )
    assert track["width"] > 400
    sleep_bar = rows.nth(4).locator(".wf-bar").bounding_box()
    step_bar = rows.nth(0).locator(".wf-bar").bounding_box()
    assert (
        sleep_bar["width"] > step_bar["width"] and sleep_bar["x"] > step_bar["x"]
    )  # later and longer
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )

    # Phone: the bar stacks under the name and spans the row; still no sideways scroll.
    page.set_viewport_size({"width": 360, "height": 800})
    name, track = box(page, ".wf-row .wf-name"), box(page, ".wf-row .wf-track")
    assert track["y"] >= name["y"] + name["height"] - 1
    assert track["width"] > 200 and track["x"] + track["width"] <= 360
    expect(flaky.locator(".wf-output")).to_be_visible()
    assert page.evaluate("""() => { const w = document.querySelector('.waterfall');
                                     return w.scrollWidth <= w.clientWidth; }""")
    # Nothing of the run page sticks out, and the page as a whole does not scroll sideways.
    wide = page.evaluate("""() => [...document.querySelectorAll('#run-body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .map(e => e.tagName + '.' + e.getAttribute('class'))""")
    assert wide == []
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
