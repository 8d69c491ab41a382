"""Real chromium: the dashboard's progress bars keep one fixed width whatever their label says (a
long label used to squeeze the bar to a sliver, or out of sight), on the list, on a run's page and
on a phone."""

from __future__ import annotations

import json

import psycopg
from playwright.sync_api import Page, expect

from tests.browser.test_dashboard_browser import sign_up_enterprise, start

PROGRESS = [  # (done, total, label): what the workflows report, short and long
    (0, 4, "Waiting for your review"),
    (5, 5, "Comments posted and the review summary written for feature/very-long-branch-name-here"),
    (20, 50, "summarised"),
    (1, 3, ""),
]


def start_runs_with_progress(database_url: str, user_id: int) -> list[str]:
    ids = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        for done, total, label in PROGRESS:
            run_id = start(
                database_url, user_id, "test-hook"
            )  # waits for a decision: its progress stays put
            conn.execute(
                "UPDATE runs SET title = 'Reviewed content', progress = %s WHERE id = %s",
                (json.dumps({"done": done, "total": total, "label": label}), run_id),
            )
            ids.append(run_id)
    return ids


def bar_widths(page: Page, run_ids: list[str]) -> list[float]:
    """Measured in one go: the rows are re-rendered by live updates at any moment."""
    for run_id in run_ids:
        expect(page.locator(f"#run-{run_id} progress")).to_be_visible()
    return page.evaluate(
        """(ids) => ids.map((id) => {
        const bar = document.querySelector(`#run-${id} progress`);
        return bar ? bar.getBoundingClientRect().width : 0; })""",
        run_ids,
    )


def test_bars_keep_one_width_whatever_the_label(page: Page, database_url):
    user_id = sign_up_enterprise(page, database_url)
    run_ids = start_runs_with_progress(database_url, user_id)

    for size in (
        {"width": 1366, "height": 800},
        {"width": 1024, "height": 768},
        {"width": 360, "height": 740},
    ):
        page.set_viewport_size(size)
        page.goto("/workflows")
        widths = bar_widths(page, run_ids)
        assert min(widths) >= 120, f"a bar is squeezed at {size['width']} px: {widths}"
        assert max(widths) - min(widths) <= 1, f"bars differ at {size['width']} px: {widths}"
        # the label is still all there, beside or below the bar
        expect(page.locator(f"#run-{run_ids[1]} .run-progress-label")).to_contain_text(
            "Comments posted"
        )

    page.set_viewport_size({"width": 1366, "height": 800})
    page.goto(f"/workflows/{run_ids[1]}")
    bar = page.locator(".run-status-line progress")
    expect(bar).to_have_attribute("value", "100")
    assert (
        page.evaluate(
            "() => document.querySelector('.run-status-line progress').getBoundingClientRect().width"
        )
        >= 120
    )
