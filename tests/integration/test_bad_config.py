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
        ("worker", "DATABASE_URL", _unreachable()),
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
