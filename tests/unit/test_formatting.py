"""The code base stays as `ruff format` writes it, so a diff shows changes, not restyling."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_format_leaves_every_file_unchanged():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, "run `uv run ruff format`:\n" + result.stdout
