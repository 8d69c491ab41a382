"""docs/admin/monitoring.md stays true: every metric it names (its alert rules included) is in the
live /metrics output, and the metrics its alerts rest on measure a stuck run and a lagging queue."""

from __future__ import annotations

import dataclasses
import re

from litestar.testing import AsyncTestClient

from app.core.paths import ROOT
from app.web.app import create_app
from app.web.metrics.store import snapshot
from tests.support.engine import make_user

DOC = ROOT / "docs/admin/monitoring.md"


def exposed_names(text: str) -> set[str]:
    """Metric names of a Prometheus text exposition: each family by its TYPE line, and each sample."""
    names = set(re.findall(r"^# TYPE (\w+) ", text, re.M))
    return names | {
        line.split("{")[0].split()[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def test_every_metric_the_monitoring_page_names_is_served(settings, database_url):
    app = create_app(
        dataclasses.replace(settings, metrics_token="docs-token"), database_url, run_worker=False
    )
    async with AsyncTestClient(app) as client:
        response = await client.get("/metrics", headers={"Authorization": "Bearer docs-token"})
    assert response.status_code == 200
    # The text format ends every line, the last one too, with a newline (promtool refuses it otherwise).
    assert response.text.endswith("\n") and not response.text.endswith("\n\n")
    named = set(re.findall(r"\bbaton_[a-z_]+\b", DOC.read_text(encoding="utf-8")))
    rules = re.search(r"```yaml\n(groups:.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    assert {
        "baton_runs_unchanged_seconds",
        "baton_runs",
        "baton_queue_oldest_ready_seconds",
    } <= set(re.findall(r"\bbaton_[a-z_]+\b", rules)), "the three alert rules are on the page"
    assert named - exposed_names(response.text) == set(), (
        "named in docs/admin/monitoring.md but not served"
    )


STALE_RUN = """
INSERT INTO runs (owner_id, workflow, version, title, status, input, updated_at)
VALUES (%s, 'selftest', 1, 'stuck', 'running', '{}', now() - interval '1 hour')
"""
LATE_JOB = """
INSERT INTO procrastinate_jobs (queue_name, task_name, status, scheduled_at)
VALUES ('docs-test', 'docs.never', 'todo', now() - interval '90 seconds')
"""


async def test_a_stuck_run_and_a_job_nobody_takes_show_in_the_alerting_metrics(pool):
    owner = await make_user(pool)
    # Rolled back: no worker ever sees the job, and the run never existed.
    async with pool.connection() as conn, conn.transaction(force_rollback=True):
        before = await snapshot(conn)
        await conn.execute(STALE_RUN, (owner,))
        await conn.execute(LATE_JOB)
        after = await snapshot(conn)
    assert after["unchanged_runs_s"]["running"] >= 3600
    assert after["oldest_ready_job_s"] >= 90
    assert after["queue"]["ready"] == before["queue"]["ready"] + 1
