"""The load test (bench/load.py) at its smoke size, so it does not rot: real `baton serve` and
`baton worker` processes on a throwaway cluster, seeded through the engine's SQL, one short stage
of every request kind. Figures are printed, not asserted (performance belongs to bench/); what
is asserted is what a person would notice: every kind was served without errors, decisions
resumed their runs, and the live pages received events."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_the_load_test_drives_every_request_kind_without_errors():
    done = subprocess.run(
        [sys.executable, "bench/load.py", "--scale", "smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for kind in (
        "dashboard",
        "run_page",
        "inbox",
        "run_list",
        "api_start",
        "ui_start",
        "decision",
        "chat",
        "chat reply done",
        "decision -> next step",
    ):
        figures = re.search(
            rf"^    {re.escape(kind)}\s+([\d.]+)/s .* errors (\d+)$", done.stdout, re.M
        )
        assert figures, f"no figures for {kind}:\n{done.stdout}"
        assert figures[2] == "0", f"{kind} had errors:\n{done.stdout}"
    assert re.search(r"^    live event lateness\s+[\d.]+/s", done.stdout, re.M), done.stdout
    assert "B per step" in done.stdout and "RSS" in done.stdout
    assert "/metrics scrape" in done.stdout
