"""The run page a person reads: a waterfall of numbered steps on the run's time axis, retries and
decisions visible, step outputs rendered readably (Markdown as sanitized HTML, lists as tables)."""

import re

from pydantic import BaseModel

from app.engine.registry import workflow
from app.engine.run import Run
from tests.support.engine import start, wait_status
from tests.support.web import csrf_of, log_in, make_user, new_email


class Empty(BaseModel):
    pass


HOSTILE = "# Findings\n\nThe **summary** is ready.\n\n<script>alert('x')</script><img src=x onerror=alert(1)>"


async def markdown_text() -> str:
    return HOSTILE


async def rows() -> list[dict]:
    return [{"file": "a.csv", "rows": 180}, {"file": "b.csv", "rows": 12}]


async def big() -> dict:
    return {"values": list(range(5000))}


@workflow(
    name="test-run-page", title="Run page", description="readable outputs", input=Empty, hidden=True
)
async def run_page_workflow(run: Run, inp: Empty) -> dict:
    await run.step("write", markdown_text)
    await run.step("tabulate", rows)
    await run.step("dump", big)
    return {"done": True}


def bars(html: str) -> list[tuple[float, float]]:
    return [
        (float(x), float(w))
        for x, w in re.findall(r'<rect class="wf-bar" x="([\d.]+)" y="1" width="([\d.]+)"', html)
    ]


async def test_run_page_numbers_steps_draws_bars_and_shows_retries_and_decisions(
    app_client, pool, worker
):
    user = await make_user(pool, new_email("runpage"), tier="enterprise")
    assert (await log_in(app_client, user.email)).status_code == 303
    run = await start(
        pool, user.id, "selftest", steps=3, step_ms=20, fail_attempts=1, sleep_s=0.3, approval=True
    )
    await wait_status(pool, run.id, "waiting")
    async with pool.connection() as conn:
        hook = await (
            await conn.execute("SELECT id FROM hooks WHERE run_id = %s", (run.id,))
        ).fetchone()
    review = await app_client.get(f"/approvals/{hook['id']}")
    decided = await app_client.post(
        f"/approvals/{hook['id']}",
        data={"_csrf_token": csrf_of(review.text), "view": "page", "action": "approve"},
    )
    assert decided.status_code == 303
    await wait_status(pool, run.id, "completed")

    page = await app_client.get(f"/workflows/{run.id}")
    assert page.status_code == 200
    html = page.text
    numbers = [int(n) for n in re.findall(r'<span class="wf-num">(\d+)</span>', html)]
    # step 1..3, flaky, sleep, approval: consecutive, although the journal's seq has gaps (now/uuid rows)
    assert numbers == list(range(1, 7)), numbers
    drawn = bars(html)
    assert len(drawn) == 6
    for offset, width in drawn:
        assert offset >= 0 and width > 0 and offset + width <= 100.01
    assert (
        sum(w for _, w in drawn) <= 100 + 6 * 0.6 + 0.1
    )  # sequential steps share the axis, no overlap
    sleep_bar = drawn[4][1]
    assert sleep_bar > max(
        drawn[i][1] for i in range(3)
    )  # the 0.3 s sleep is wider than a 20 ms step
    assert 'class="wf-row wf-sleep' in html and 'class="wf-row wf-hook' in html
    assert "2 attempts" in html  # the flaky step failed once, then passed
    assert re.search(
        rf'<a href="/approvals/{hook["id"]}">approved</a>\s*by <strong class="wf-decided-by">{re.escape(user.email)}</strong> at <time',
        html,
    )


async def test_step_outputs_render_readably_and_hostile_html_is_inert(app_client, pool, worker):
    user = await make_user(pool, new_email("runpage"), tier="enterprise")
    assert (await log_in(app_client, user.email)).status_code == 303
    run = await start(pool, user.id, "test-run-page")
    await wait_status(pool, run.id, "completed")
    page = (await app_client.get(f"/workflows/{run.id}")).text
    # Each step's values come when the reader opens it: the fragment htmx fetches on opening, and
    # without JavaScript the step's link renders the page with that step open.
    opened = re.findall(r'hx-get="(/workflows/[^"]+/steps/\d+)"', page)
    links = re.findall(r'href="(/workflows/[^"?]+\?open=\d+)#step-\d+"', page)
    assert len(opened) == len(links) == 3
    html = "".join([(await app_client.get(path)).text for path in opened])
    assert "<h1>Findings</h1>" in html or re.search(r"<h\d[^>]*>Findings</h\d>", html)
    assert "<strong>summary</strong>" in html
    assert "<script>alert" not in html and not re.search(
        r"<img[^>]*onerror", html
    )  # shown as text, never run
    assert "&lt;script&gt;alert" in html
    assert re.search(r"<th>file</th><th>rows</th>.*<td>a.csv</td><td>180</td>", html, re.S)
    assert "Cut at 4000 of" in html  # a big JSON output is shortened, with a note
    for path in links:
        without_js = (await app_client.get(path)).text
        assert without_js.count('<details class="wf-details"') == 3
        assert without_js.count(" open>") == 1 and 'class="wf-output"' in without_js
    assert "<h1>Findings</h1>" not in page  # the page itself no longer carries every value
