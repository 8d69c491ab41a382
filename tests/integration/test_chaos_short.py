"""The chaos soak (bench/chaos.py) in a short configuration: about 50 s of chaos, then the drain.

Real `baton worker` processes and a real `baton serve --no-worker` on a throwaway Postgres cluster
the soak owns (never the shared server): workers SIGKILLed every few seconds, the web process
killed once or twice, Postgres restarted once, while runs with steps, retries, sleeps, approvals decided
over HTTP, a rate-limited fan-out and idempotent publishing go on. Every run must finish with its
expected result, the journal hold no duplicate, every approval be decided once, every post be
published once, and no job be left `doing`. The figures (recovery times) are printed, not asserted:
performance belongs to bench/."""

from __future__ import annotations

import pytest

from bench.chaos import ChaosConfig, run_soak

pytestmark = pytest.mark.slow

SHORT = ChaosConfig(
    duration_s=50,
    workers=2,
    concurrency=4,
    start_every_s=1.0,
    kill_every_s=(3.0, 6.0),
    restart_after_s=(0.5, 5.0),
    never_restart=0.0,  # with two workers, keep both coming back so the drain stays short
    web_kill_every_s=22,  # one or two kills of the web process
    pg_restart_every_s=40,  # one Postgres restart, 20-40 s in
    pg_pause_s=(0.0, 4.0),
    drain_s=60,
    seed=21,
)


async def test_runs_keep_their_results_while_workers_the_web_process_and_postgres_are_killed(
    tmp_path,
):
    report = await run_soak(SHORT, keep_logs=tmp_path / "logs")
    print("\n".join(report.figures))

    assert (
        report.kills["worker"] >= 6 and report.kills["web"] >= 1 and report.kills["postgres"] == 1
    ), report.kills
    assert len(report.runs) >= 30 and set(report.runs.values()) == {
        "steps",
        "hook",
        "fan-out",
        "publish",
    }
    assert report.problems == [], "\n".join(report.problems + report.figures)
