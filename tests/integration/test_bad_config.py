"""A misconfigured start stops at once with one line that names the variable, and no traceback."""

from __future__ import annotations

import pytest

from tests.integration.baton_process import free_port, run_baton

PASSWORD = "pw-never-echoed"


def _unreachable() -> str:
    return f"postgresql://baton:{PASSWORD}@127.0.0.1:{free_port()}/baton"


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        ("serve", "DATABASE_URL", "nonsense"),
        ("migrate", "DATABASE_URL", "nonsense"),
        ("worker", "DATABASE_URL", "nonsense"),
        ("serve", "BATON_LOG_FORMAT", "xml"),
        ("worker", "BATON_CONNECTOR_ALLOW", "10.0.0.1/8"),
        ("serve", "DATABASE_URL", _unreachable()),
        ("serve", "BATON_SECRET_KEY", "too-short"),
    ],
)
def test_bad_config_exits_with_one_line_naming_the_variable(tmp_path, command, variable, value):
    env = {"BATON_DATA_DIR": str(tmp_path / "data"), variable: value}
    args = [command, "--port", str(free_port())] if command == "serve" else [command]

    result = run_baton(*args, cwd=tmp_path, timeout=30, **env)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr


def test_a_database_that_does_not_exist_is_reported_as_database_url(tmp_path, server_url):
    url = server_url.rsplit("/", 1)[0] + "/baton_no_such_database"

    result = run_baton(
        "migrate", cwd=tmp_path, timeout=30, DATABASE_URL=url, BATON_DATA_DIR=str(tmp_path / "d")
    )

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0]
    assert "baton_no_such_database" in lines[0]


def test_a_worker_waits_for_an_unreachable_database_up_to_the_allowed_outage_then_names_it(
    tmp_path,
):
    """Unlike serve and migrate, a worker may start during a failover: it waits BATON_DB_OUTAGE_MAX
    (tests/integration/test_database_restart.py), then stops with one line naming DATABASE_URL."""
    env = {
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": _unreachable(),
        "BATON_DB_OUTAGE_MAX": "2s",
        "BATON_BASE_URL": "http://127.0.0.1:8000",
    }

    result = run_baton("worker", cwd=tmp_path, timeout=30, **env)

    assert result.returncode != 0
    *waiting, last = result.stderr.strip().splitlines()
    assert "DATABASE_URL" in last and "cannot connect" in last
    assert waiting and all("worker.waiting_for_database" in line for line in waiting)
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr
